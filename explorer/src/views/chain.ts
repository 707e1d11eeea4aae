import cytoscape from "cytoscape";
import { gql } from "../api";
import { config } from "../auth";
import { h, pct, replace } from "../dom";
import { errors, show } from "../frame";
import { computedNote, Marks } from "../releasability";
import * as session from "../session";

// First the chain alone, to learn which nations it touches; then one document with everything
// the view draws, so the banner on screen is the server's roll-up of all of it.
const NATIONS_OF_CHAIN = `query ExplorerChainNations($id: ID!, $depth: Int!) {
  supplyChain(root: $id, depth: $depth) { nodes { nation } }
}`;

const QUERY = `query ExplorerChain($id: ID!, $depth: Int!, $codes: [String!], $hasCodes: Boolean!,
    $whatIf: Boolean!, $removeNations: [String!], $removeSuppliers: [ID!]) {
  supplyChain(root: $id, depth: $depth) {
    root { id name kind nation }
    depth nodeCount edgeCount
    nodes { id kind name nation tier marking }
    edges { from to kind tier item share sole marking }
    marking
  }
  singlePointsOfFailure(root: $id, depth: $depth) {
    suppliers { supplier { id name nation } tier dominates }
    nations
    marking
  }
  exposure(root: $id, depth: $depth) {
    nationsOfConcern reached nearestTier maxShare pathCount
    nations { nation paths nearestTier maxShare }
    paths { suppliers { id name nation } tier nation via share owner { id name nation } marking }
    marking
  }
  nations(codes: $codes, first: 100) @include(if: $hasCodes) {
    nodes { code agreements(first: 50) { nodes { code } } }
  }
  disruption(removeNations: $removeNations, removeSuppliers: $removeSuppliers, depth: 3, first: 3)
      @include(if: $whatIf) {
    removedNations
    removedSuppliers { id name nation }
    capabilities {
      capability { id name } providersBefore providersAfter capacityLostShare lostEveryProvider
      alliedAlternatives { supplier { name nation } capacity }
    }
    lost { id name }
    impaired { capability { id name } lostInputs tier }
    marking
  }
}`;

interface ChainNode {
  id: string;
  kind: "SUPPLIER" | "CAPABILITY";
  name: string | null;
  nation: string | null;
  tier: number;
  marking: string;
}

interface ChainEdge {
  from: string;
  to: string;
  kind: string;
  tier: number;
  item: string | null;
  share: number | null;
  sole: boolean | null;
  marking: string;
}

interface Summary {
  id: string;
  name: string | null;
  nation: string | null;
}

interface Data {
  supplyChain: {
    root: { id: string; name: string | null; kind: string; nation: string | null };
    depth: number;
    nodeCount: number;
    edgeCount: number;
    nodes: ChainNode[];
    edges: ChainEdge[];
    marking: string;
  } | null;
  singlePointsOfFailure: { suppliers: { supplier: Summary; tier: number; dominates: number }[]; nations: string[]; marking: string } | null;
  exposure: {
    nationsOfConcern: string[];
    reached: boolean;
    nearestTier: number | null;
    maxShare: number | null;
    pathCount: number;
    nations: { nation: string; paths: number; nearestTier: number; maxShare: number | null }[];
    paths: { suppliers: Summary[]; tier: number; nation: string; via: string; share: number | null; owner: Summary | null; marking: string }[];
    marking: string;
  } | null;
  nations?: { nodes: { code: string; agreements: { nodes: { code: string }[] } }[] };
  disruption?: {
    removedNations: string[];
    removedSuppliers: Summary[];
    capabilities: {
      capability: { id: string; name: string | null };
      providersBefore: number;
      providersAfter: number;
      capacityLostShare: number | null;
      lostEveryProvider: boolean;
      alliedAlternatives: { supplier: { name: string | null; nation: string | null }; capacity: number | null }[];
    }[];
    lost: { id: string; name: string | null }[];
    impaired: { capability: { id: string; name: string | null }; lostInputs: string[]; tier: number }[];
    marking: string;
  };
}

type Group = "own" | "allied" | "concern" | "other" | "unknown" | "capability";

const COLOURS: Record<Group, string> = {
  own: "#1f5fa8",
  allied: "#2e8b57",
  concern: "#b3261e",
  other: "#8c8c8c",
  unknown: "#c9b458",
  capability: "#4a3f8c",
};

function list(value: string | null): string[] {
  return (value ?? "").split(",").map((x) => x.trim()).filter(Boolean);
}

export async function chain(id: string, params: URLSearchParams): Promise<void> {
  const depth = Math.min(Math.max(Number(params.get("depth") ?? 3) || 3, 1), 6);
  const removeNations = list(params.get("remove"));
  const removeSuppliers = list(params.get("drop"));
  const whatIf = removeNations.length + removeSuppliers.length > 0;

  const first = await gql<{ supplyChain: { nodes: { nation: string | null }[] } | null }>(NATIONS_OF_CHAIN, { id, depth });
  const codes = [...new Set((first.data?.supplyChain?.nodes ?? []).map((n) => n.nation).filter((n): n is string => !!n))];
  const result = await gql<Data>(QUERY, {
    id, depth, codes, hasCodes: codes.length > 0, whatIf, removeNations, removeSuppliers,
  });
  const marks = new Marks(result.releasability);
  const d = result.data;
  const sc = d?.supplyChain;
  if (!sc) {
    show("chain", marks, errors(first), errors(result), h("p", {}, "No such supplier or capability, or it is not visible to you."));
    return;
  }

  const viewer = session.current()?.viewer;
  const me = viewer?.nation ?? marks.nation;
  const myGroups = new Set((viewer?.groups ?? []).filter((g) => g !== me));
  const concern = new Set(d?.exposure?.nationsOfConcern ?? (await config()).nationsOfConcern);
  const agreements = new Map((d?.nations?.nodes ?? []).map((n) => [n.code, n.agreements.nodes.map((a) => a.code)]));
  const groupOf = (nation: string | null): Group => {
    if (!nation) return "unknown";
    if (nation === me) return "own";
    if (concern.has(nation)) return "concern";
    return (agreements.get(nation) ?? []).some((a) => myGroups.has(a)) ? "allied" : "other";
  };

  const spof = new Set((d?.singlePointsOfFailure?.suppliers ?? []).map((p) => p.supplier.id));
  const exposedEdges = new Set<string>();
  const exposedNodes = new Set<string>();
  for (const path of d?.exposure?.paths ?? []) {
    const ids = [sc.root.id, ...path.suppliers.map((s) => s.id)];
    for (let i = 1; i < ids.length; i++) exposedEdges.add(`${ids[i - 1]}>${ids[i]}`);
    const last = path.suppliers[path.suppliers.length - 1];
    if (last) exposedNodes.add(last.id);
  }
  const removed = (n: ChainNode) =>
    whatIf && ((n.nation !== null && removeNations.includes(n.nation)) || removeSuppliers.includes(n.id));

  // Tiers left to right, upstream to the right; within a tier, by name.
  const tiers = new Map<number, ChainNode[]>();
  for (const n of sc.nodes) tiers.set(n.tier, [...(tiers.get(n.tier) ?? []), n]);
  const elements: cytoscape.ElementDefinition[] = [];
  for (const [tier, nodes] of tiers) {
    nodes.sort((a, b) => (a.name ?? "~").localeCompare(b.name ?? "~"));
    nodes.forEach((n, i) => {
      const group: Group = n.kind === "CAPABILITY" ? "capability" : groupOf(n.nation);
      const classes = [n.kind.toLowerCase(), group];
      if (spof.has(n.id)) classes.push("spof");
      if (exposedNodes.has(n.id)) classes.push("exposed");
      if (removed(n)) classes.push("removed");
      elements.push({
        group: "nodes",
        data: { id: n.id, label: `${n.name ?? "name withheld"}${n.nation ? ` (${n.nation})` : ""}`, colour: COLOURS[group] },
        position: { x: tier * 260, y: (i - (nodes.length - 1) / 2) * 62 },
        classes,
      });
    });
  }
  sc.edges.forEach((e, i) => {
    const classes = [e.kind.toLowerCase()];
    if (exposedEdges.has(`${e.from}>${e.to}`)) classes.push("exposed");
    if (e.sole) classes.push("sole");
    elements.push({
      group: "edges",
      data: { id: `e${i}`, source: e.from, target: e.to, label: e.item ?? "" },
      classes,
    });
  });

  const container = h("div", { id: "cy", "data-testid": "chain-graph", role: "img",
    "aria-label": `Supply tree of ${sc.root.name ?? "the root"}: ${sc.nodeCount} nodes, ${sc.edgeCount} links` });
  const detail = h("p", { class: "muted", "data-testid": "node-detail" }, "Select a node for details; selecting a supplier marks it for the what-if below.");

  // What-if: nations and suppliers to drop.
  const nationBoxes = codes.sort().map((c) =>
    h("label", {}, h("input", { type: "checkbox", value: c, checked: removeNations.includes(c), "data-testid": `remove-${c}` }), ` ${c}`));
  const supplierBoxes = sc.nodes
    .filter((n) => n.kind === "SUPPLIER" && n.id !== sc.root.id)
    .sort((a, b) => (a.name ?? "~").localeCompare(b.name ?? "~"))
    .map((n) => h("label", {}, h("input", { type: "checkbox", value: n.id, checked: removeSuppliers.includes(n.id), "data-id": n.id }),
      ` ${n.name ?? "name withheld"}`));
  const apply = () => {
    const nations = nationBoxes.map((l) => l.querySelector("input") as HTMLInputElement).filter((i) => i.checked).map((i) => i.value);
    const suppliers = supplierBoxes.map((l) => l.querySelector("input") as HTMLInputElement).filter((i) => i.checked).map((i) => i.value);
    const q = new URLSearchParams({ depth: String(depth) });
    if (nations.length) q.set("remove", nations.join(","));
    if (suppliers.length) q.set("drop", suppliers.join(","));
    window.location.hash = `#/chain/${encodeURIComponent(id)}?${q.toString()}`;
  };

  const dis = d?.disruption;
  const whatIfCard = h(
    "section",
    { class: "card", "data-testid": "what-if" },
    h("h2", {}, "What if these drop out?"),
    h("p", { class: "muted" }, "Nations"), h("div", { class: "checks" }, nationBoxes),
    h("p", { class: "muted" }, "Suppliers (or select them in the picture)"), h("div", { class: "checks" }, supplierBoxes),
    h("button", { onclick: apply, "data-testid": "run-what-if" }, "Run what-if"),
    whatIf && h("button", { class: "secondary", onclick: () => { window.location.hash = `#/chain/${encodeURIComponent(id)}?depth=${depth}`; } }, "Clear"),
    dis &&
      h(
        "div",
        { "data-testid": "disruption" },
        h("p", {}, h("strong", {}, `Lost every visible provider: ${dis.lost.length}`),
          dis.lost.length ? ` — ${dis.lost.map((c) => c.name ?? "name withheld").join(", ")}` : ""),
        h(
          "table",
          {},
          h("thead", {}, h("tr", {}, h("th", {}, "capability"), h("th", {}, "providers"), h("th", {}, "capacity lost"),
            h("th", {}, "allied alternatives"))),
          h(
            "tbody",
            {},
            dis.capabilities.slice(0, 15).map((c) =>
              h(
                "tr",
                {},
                h("td", {}, h("a", { href: `#/capability/${encodeURIComponent(c.capability.id)}` }, c.capability.name ?? "name withheld")),
                h("td", { class: c.lostEveryProvider ? "error" : "" }, `${c.providersBefore} → ${c.providersAfter}`),
                h("td", {}, pct(c.capacityLostShare)),
                h("td", {}, c.alliedAlternatives.map((a) => `${a.supplier.name ?? "name withheld"} (${a.supplier.nation ?? "?"})`).join(", ")),
              ),
            ),
          ),
        ),
        dis.impaired.length > 0 &&
          h("p", {}, "Impaired downstream: ", dis.impaired.map((i) => h("span", { class: "chip" }, `${i.capability.name ?? "name withheld"} (tier ${i.tier})`))),
        h("p", { class: "marking-tag" }, `derived from: ${dis.marking}`),
      ),
  );

  const sp = d?.singlePointsOfFailure;
  const ex = d?.exposure;
  const findings = h(
    "div",
    { class: "grid" },
    h(
      "section",
      { class: "card", "data-testid": "spof" },
      h("h2", {}, "Single points of failure"),
      sp && sp.suppliers.length
        ? h("ul", {}, sp.suppliers.map((p) => h("li", {}, `${p.supplier.name ?? "name withheld"} (${p.supplier.nation ?? "nation withheld"}), tier ${p.tier}`)))
        : h("p", { class: "muted" }, "None visible to you."),
      sp && sp.nations.length > 0 && h("p", {}, "Nations that cut every path: ", sp.nations.join(", ")),
      sp && h("p", { class: "marking-tag" }, `derived from: ${sp.marking}`),
    ),
    h(
      "section",
      { class: "card", "data-testid": "exposure" },
      h("h2", {}, `Paths to nations of concern (${[...concern].join(", ")})`),
      ex && ex.reached
        ? [
            h("p", {}, `${ex.pathCount} paths; nearest at tier ${ex.nearestTier}; largest share ${pct(ex.maxShare)}.`),
            h("ul", {}, ex.paths.slice(0, 8).map((p) =>
              h("li", {}, `${p.suppliers.map((s) => s.name ?? "name withheld").join(" → ")} · ${p.nation} via ${p.via.toLowerCase().replace("_", " ")}`,
                p.owner ? ` (owner ${p.owner.name ?? "name withheld"})` : "", ` · share ${pct(p.share)}`))),
          ]
        : h("p", { class: "muted" }, "No path visible to you reaches a nation of concern."),
      ex && h("p", { class: "marking-tag" }, `derived from: ${ex.marking}`),
    ),
  );

  const legend = h(
    "div",
    { class: "legend" },
    ([["capability", "capability"], ["own", `your nation (${me})`], ["allied", "shares an agreement with you"], ["concern", "nation of concern"],
      ["other", "other"], ["unknown", "supplier's nation withheld"], ["spof", "single point of failure"],
      ["path", "path to a nation of concern"], ["removed", "dropped in the what-if"]] as const).map(([cls, text]) =>
      h("span", {}, h("span", { class: `swatch ${cls}` }), text)),
  );

  show(
    "chain",
    marks,
    h("h1", { "data-testid": "title" }, `Supply chain of ${sc.root.name ?? "name withheld"}`),
    errors(first),
    errors(result),
    h("p", {}, `${sc.nodeCount} nodes and ${sc.edgeCount} links visible to you, to depth ${sc.depth}. `,
      ...[2, 3, 4, 5].map((n) => (n === depth ? h("strong", {}, ` depth ${n} `) : h("a", { href: `#/chain/${encodeURIComponent(id)}?depth=${n}` }, ` depth ${n} `))),
      sc.root.kind === "CAPABILITY" ? h("a", { href: `#/capability/${encodeURIComponent(sc.root.id)}` }, " · capability page") : ""),
    computedNote(marks.nation),
    legend,
    container,
    detail,
    h("p", { class: "marking-tag" }, `picture derived from: ${sc.marking}`),
    findings,
    whatIfCard,
  );

  const cy = cytoscape({
    container,
    elements,
    layout: { name: "preset" },
    minZoom: 0.2,
    maxZoom: 2.5,
    style: [
      { selector: "node", style: {
        "background-color": "data(colour)", label: "data(label)", "font-size": 11, color: "#1d2430",
        "text-valign": "bottom", "text-margin-y": 4, "text-wrap": "ellipsis", "text-max-width": "220px",
        width: 22, height: 22, "border-width": 1, "border-color": "#ffffff" } },
      { selector: "node.capability", style: { shape: "round-rectangle", width: 34, height: 22 } },
      { selector: "node.spof", style: { "border-width": 5, "border-color": "#f28c00" } },
      { selector: "node.exposed", style: { "border-width": 5, "border-color": "#b3261e", "border-style": "double" } },
      { selector: "node.removed", style: { opacity: 0.35, "border-style": "dashed", "border-width": 3, "border-color": "#555" } },
      { selector: "node:selected", style: { "overlay-opacity": 0.15, "overlay-color": "#1f5fa8" } },
      { selector: "edge", style: {
        width: 1.5, "line-color": "#aab3c0", "target-arrow-color": "#aab3c0", "target-arrow-shape": "triangle",
        "curve-style": "bezier", "arrow-scale": 0.8 } },
      { selector: "edge.sole", style: { "line-style": "dashed" } },
      { selector: "edge.exposed", style: { width: 3.5, "line-color": "#b3261e", "target-arrow-color": "#b3261e" } },
    ],
  });
  cy.fit(undefined, 30);
  cy.on("tap", "node", (event) => {
    const node = sc.nodes.find((n) => n.id === event.target.id());
    if (!node) return;
    const box = supplierBoxes.map((l) => l.querySelector("input") as HTMLInputElement).find((i) => i.value === node.id);
    if (box) box.checked = !box.checked;
    replace(
      detail,
      h("strong", {}, node.name ?? "name withheld"),
      ` · ${node.kind.toLowerCase()} · ${node.nation ?? "nation withheld"} · tier ${node.tier} · `,
      h("span", { class: "marking-tag" }, node.marking),
      node.kind === "CAPABILITY"
        ? h("a", { href: `#/capability/${encodeURIComponent(node.id)}` }, " · capability page")
        : [h("a", { href: `#/chain/${encodeURIComponent(node.id)}` }, " · its supply chain"),
           box ? ` · ${box.checked ? "marked" : "unmarked"} for the what-if` : ""],
    );
  });
  container.dataset.rendered = String(cy.nodes().length);
}
