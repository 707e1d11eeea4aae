import { gql } from "../api";
import { hhiGauge, shareBars } from "../chart";
import { fmt, h } from "../dom";
import { errors, show } from "../frame";
import { computedNote, Marks } from "../releasability";
import * as session from "../session";

const QUERY = `query ExplorerCapability($id: ID!, $dest: String!) {
  capability(id: $id) {
    id name area description jurisdiction usml eccn sme etl classified cdnExcluded marking
    providers(first: 50) {
      totalCount
      edges { capacity unit trl leadTimeDays marking node { id name cage nation { code } } }
    }
  }
  concentration(capability: $id) {
    providers providersCounted capacityUnknown totalCapacity capacityUnknownNation
    hhiByNation hhiBySupplier levelByNation levelBySupplier
    byNation { nation providers capacity capacityUnknown share }
    allied { group capacity share }
    marking
  }
  capabilityGap(capability: $id, depth: 2) {
    capability { byAgreement { group providers hasProvider } groupsWithoutProvider domesticProvider }
    inputs {
      capability { id name } tier providers totalCapacity capacityUnknown
      groupsWithoutProvider domesticProvider soleSource { id name nation }
      byNation { nation providers }
    }
    soleSourced { id name }
    withoutProvider { id name }
    marking
  }
  tradePathway(capability: $id, destination: $dest) {
    destination outcome exemption reasons undetermined reliedOn { name value marking } notice marking
  }
}`;

interface Provider {
  capacity: number | null;
  unit: string | null;
  trl: number | null;
  leadTimeDays: number | null;
  marking: string;
  node: { id: string; name: string | null; cage: string | null; nation: { code: string } | null };
}

interface Data {
  capability: {
    id: string;
    name: string | null;
    area: string | null;
    description: string | null;
    jurisdiction: string | null;
    usml: string | null;
    eccn: string | null;
    sme: boolean | null;
    etl: boolean | null;
    classified: boolean | null;
    cdnExcluded: boolean | null;
    marking: string;
    providers: { totalCount: number; edges: Provider[] };
  } | null;
  concentration: {
    providers: number;
    providersCounted: number;
    capacityUnknown: number;
    totalCapacity: number;
    capacityUnknownNation: number;
    hhiByNation: number | null;
    hhiBySupplier: number | null;
    levelByNation: string | null;
    levelBySupplier: string | null;
    byNation: { nation: string | null; providers: number; capacity: number | null; capacityUnknown: number; share: number | null }[];
    allied: { group: string; capacity: number; share: number | null }[];
    marking: string;
  } | null;
  capabilityGap: {
    capability: { byAgreement: { group: string; providers: number; hasProvider: boolean }[]; groupsWithoutProvider: string[]; domesticProvider: boolean };
    inputs: {
      capability: { id: string; name: string | null };
      tier: number;
      providers: number;
      totalCapacity: number | null;
      capacityUnknown: number;
      groupsWithoutProvider: string[];
      domesticProvider: boolean;
      soleSource: { id: string; name: string | null; nation: string | null } | null;
      byNation: { nation: string | null; providers: number }[];
    }[];
    soleSourced: { id: string; name: string | null }[];
    withoutProvider: { id: string; name: string | null }[];
    marking: string;
  } | null;
  tradePathway: {
    destination: string;
    outcome: string;
    exemption: string | null;
    reasons: string[];
    undetermined: string[];
    reliedOn: { name: string; value: string; marking: string }[];
    notice: string;
    marking: string;
  } | null;
}

const DESTINATIONS = ["AUS", "GBR", "CAN", "NZL", "JPN", "KOR", "POL", "USA"];

function yesNo(v: boolean): string {
  return v ? "yes" : "no";
}

export async function capability(id: string, params: URLSearchParams): Promise<void> {
  const me = session.current()?.viewer?.nation ?? "";
  const dest = params.get("dest") || (me && me !== "USA" ? me : "GBR");
  const result = await gql<Data>(QUERY, { id, dest });
  const marks = new Marks(result.releasability);
  const d = result.data;
  const cap = d?.capability;
  if (!cap) {
    show("capability", marks, errors(result), h("p", {}, "No such capability, or it is not visible to you."));
    return;
  }
  const label = cap.name ?? cap.id;
  marks.record("capability", { id: cap.id, type: "Capability", label });
  cap.providers.edges.forEach((e, i) => {
    marks.record(`capability.providers.edges.${i}.node`, { id: e.node.id, type: "Supplier", label: e.node.name ?? e.node.id });
    marks.describe(`capability.providers.edges.${i}`, `offer by ${e.node.name ?? "a supplier"}`);
  });
  const v = (field: string, value: unknown) => marks.value(`capability.${field}`, value,
    (x: unknown) => (typeof x === "boolean" ? yesNo(x) : String(x)));

  // Providers grouped by the nation they are based in, as released.
  const byNation = new Map<string, { provider: Provider; index: number }[]>();
  cap.providers.edges.forEach((provider, index) => {
    const code = provider.node.nation?.code ?? "nation not released";
    byNation.set(code, [...(byNation.get(code) ?? []), { provider, index }]);
  });
  const nations = [...byNation.keys()].sort();

  const facts = h(
    "section",
    { class: "card", "data-testid": "capability-facts" },
    h("h2", {}, "Facts"),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "area"), h("dd", {}, v("area", cap.area)),
      h("dt", {}, "description"), h("dd", {}, v("description", cap.description)),
      h("dt", {}, "jurisdiction"), h("dd", {}, v("jurisdiction", cap.jurisdiction)),
      h("dt", {}, "USML"), h("dd", {}, v("usml", cap.usml)),
      h("dt", {}, "ECCN"), h("dd", {}, v("eccn", cap.eccn)),
      h("dt", {}, "SME"), h("dd", {}, v("sme", cap.sme)),
      h("dt", {}, "AUKUS ETL"), h("dd", {}, v("etl", cap.etl)),
      h("dt", {}, "classified"), h("dd", {}, v("classified", cap.classified)),
      h("dt", {}, "126.5 excluded"), h("dd", {}, v("cdnExcluded", cap.cdnExcluded)),
      h("dt", {}, "record marking"), h("dd", { class: "marking-tag" }, cap.marking),
    ),
    h("p", {}, h("a", { href: `#/chain/${encodeURIComponent(cap.id)}` }, "Supply chain of this capability →")),
  );

  const providers = h(
    "section",
    { class: "card", "data-testid": "providers" },
    h("h2", {}, `Providers by nation (${cap.providers.totalCount} visible to you)`),
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", {}, "nation"), h("th", {}, "supplier"), h("th", {}, "capacity"),
        h("th", {}, "TRL"), h("th", {}, "lead time (days)"))),
      h(
        "tbody",
        {},
        nations.flatMap((code) =>
          (byNation.get(code) ?? []).map(({ provider: p, index: i }, n) => {
            const base = `capability.providers.edges.${i}`;
            return h(
              "tr",
              { "data-testid": "provider", "data-nation": code },
              h("td", {}, n === 0 ? code : ""),
              h("td", {}, marks.value(`${base}.node.name`, p.node.name, (name: string) =>
                h("a", { href: `#/chain/${encodeURIComponent(p.node.id)}` }, name))),
              h("td", {}, marks.value(`${base}.capacity`, p.capacity, (c: number) => fmt(c)), " ",
                marks.isWithheld(`${base}.unit`) ? "" : p.unit ?? ""),
              h("td", {}, marks.value(`${base}.trl`, p.trl)),
              h("td", {}, marks.value(`${base}.leadTimeDays`, p.leadTimeDays)),
            );
          }),
        ),
      ),
    ),
    d?.capabilityGap &&
      h(
        "p",
        { "data-testid": "by-agreement" },
        "By agreement: ",
        d.capabilityGap.capability.byAgreement.map((g) =>
          h("span", { class: g.hasProvider ? "chip" : "chip bad" }, `${g.group}: ${g.providers}`),
        ),
      ),
  );

  const c = d?.concentration;
  const concentration =
    c &&
    h(
      "section",
      { class: "card", "data-testid": "concentration" },
      h("h2", {}, "Concentration (HHI by nation)"),
      h(
        "p",
        {},
        h("strong", {}, c.hhiByNation === null ? "no released capacity" : `HHI ${fmt(c.hhiByNation)}`),
        c.levelByNation ? ` · ${c.levelByNation.replace(/_/g, " ").toLowerCase()}` : "",
        ` · by supplier ${fmt(c.hhiBySupplier)}`,
      ),
      hhiGauge(c.hhiByNation, c.levelByNation),
      shareBars(c.byNation),
      h("p", { class: "muted" }, `${c.providersCounted} of ${c.providers} providers counted; `,
        `${c.capacityUnknown} with capacity withheld from you.`),
      h("p", {}, "Allied share today: ", c.allied.map((a) => h("span", { class: "chip" }, `${a.group} ${a.share === null ? "–" : `${(a.share * 100).toFixed(0)}%`}`))),
      h("p", { class: "marking-tag" }, `derived from: ${c.marking}`),
    );

  const g = d?.capabilityGap;
  const gaps = !g
    ? h("section", { class: "card", "data-testid": "gaps" }, h("h2", {}, "Gaps per required input"),
        h("p", { class: "muted" }, "The gap analysis gave no answer (see the error above)."))
    : h(
      "section",
      { class: "card", "data-testid": "gaps" },
      h("h2", {}, "Gaps per required input"),
      g.inputs.length === 0
        ? h("p", { class: "muted" }, "No required inputs visible to you.")
        : h(
            "table",
            {},
            h("thead", {}, h("tr", {}, h("th", {}, "input"), h("th", {}, "tier"), h("th", {}, "providers"),
              h("th", {}, "sole source"), h("th", {}, "agreements without a provider"), h("th", {}, "in your nation"))),
            h(
              "tbody",
              {},
              g.inputs.map((i) =>
                h(
                  "tr",
                  { "data-testid": "gap" },
                  h("td", {}, h("a", { href: `#/capability/${encodeURIComponent(i.capability.id)}` }, i.capability.name ?? "name withheld")),
                  h("td", {}, String(i.tier)),
                  h("td", { class: i.providers === 0 ? "error" : "" }, String(i.providers)),
                  h("td", {}, i.soleSource ? `${i.soleSource.name ?? "name withheld"} (${i.soleSource.nation ?? "?"})` : ""),
                  h("td", {}, i.groupsWithoutProvider.map((x) => h("span", { class: "chip bad" }, x))),
                  h("td", {}, yesNo(i.domesticProvider)),
                ),
              ),
            ),
          ),
      h("p", { class: "marking-tag" }, `derived from: ${g.marking}`),
    );

  const t = d?.tradePathway;
  const select = h(
    "select",
    {
      "aria-label": "Destination",
      onchange: (e: Event) => {
        const q = new URLSearchParams({ dest: (e.target as HTMLSelectElement).value });
        window.location.hash = `#/capability/${encodeURIComponent(id)}?${q.toString()}`;
      },
    },
    DESTINATIONS.map((n) => h("option", { value: n, selected: n === dest }, n)),
  );
  const trade = h(
    "section",
    { class: "card", "data-testid": "trade" },
    h("h2", {}, "Trade pathway (ITAR, advisory)"),
    h("p", {}, "Transfer to ", select),
    t &&
      h(
        "div",
        {},
        h("p", { class: "outcome" }, t.outcome.replace(/_/g, " ").toLowerCase(), t.exemption ? ` · ${t.exemption}` : ""),
        h("ul", {}, t.reasons.map((r) => h("li", {}, r))),
        t.undetermined.length > 0 && h("p", {}, "Undetermined (withheld from you or not recorded): ", t.undetermined.join(", ")),
        h("p", { class: "muted" }, t.notice),
        h("p", { class: "marking-tag" }, `derived from: ${t.marking}`),
      ),
  );

  show(
    "capability",
    marks,
    h("h1", { "data-testid": "title" }, marks.value("capability.name", cap.name)),
    errors(result),
    computedNote(marks.nation),
    h("div", { class: "grid" }, facts, concentration),
    providers,
    gaps,
    trade,
  );
}
