import { gql } from "../api";
import { h } from "../dom";
import { errors, show } from "../frame";
import { computedNote, Marks } from "../releasability";

const QUERY = `query ExplorerSearch($q: String, $first: Int!) {
  capabilities(first: $first, filter: {nameContains: $q}, sort: [{field: NAME}]) {
    totalCount nodes { id name area jurisdiction usml }
  }
  suppliers(first: $first, filter: {nameContains: $q}, sort: [{field: NAME}]) {
    totalCount nodes { id name cage city nation { code } }
  }
}`;

interface Data {
  capabilities: {
    totalCount: number;
    nodes: { id: string; name: string | null; area: string | null; jurisdiction: string | null; usml: string | null }[];
  };
  suppliers: {
    totalCount: number;
    nodes: { id: string; name: string | null; cage: string | null; city: string | null; nation: { code: string } | null }[];
  };
}

export async function search(params: URLSearchParams): Promise<void> {
  const q = (params.get("q") ?? "").trim();
  const result = await gql<Data>(QUERY, { q: q || null, first: 50 });
  const marks = new Marks(result.releasability);
  const data = result.data;
  const input = h("input", { type: "search", name: "q", value: q, placeholder: "name contains…", "aria-label": "Search" });
  const form = h(
    "form",
    {
      class: "inline",
      role: "search",
      onsubmit: (e: Event) => {
        e.preventDefault();
        window.location.hash = `#/search?${new URLSearchParams({ q: input.value }).toString()}`;
      },
    },
    input,
    h("button", { type: "submit" }, "Search"),
  );
  const caps = data?.capabilities;
  const sups = data?.suppliers;
  caps?.nodes.forEach((c, i) =>
    marks.record(`capabilities.nodes.${i}`, { id: c.id, type: "Capability", label: c.name ?? c.id }),
  );
  sups?.nodes.forEach((s, i) =>
    marks.record(`suppliers.nodes.${i}`, { id: s.id, type: "Supplier", label: s.name ?? s.id }),
  );
  show(
    "search",
    marks,
    h("h1", {}, "Search suppliers and capabilities"),
    form,
    errors(result),
    h(
      "div",
      { class: "grid" },
      caps &&
        h(
          "section",
          { class: "card", "data-testid": "capability-results" },
          h("h2", {}, `Capabilities (${caps.totalCount})`),
          h(
            "table",
            {},
            h("thead", {}, h("tr", {}, h("th", {}, "name"), h("th", {}, "area"), h("th", {}, "control"))),
            h(
              "tbody",
              {},
              caps.nodes.map((c, i) =>
                h(
                  "tr",
                  {},
                  h("td", {}, marks.value(`capabilities.nodes.${i}.name`, c.name, (n: string) =>
                    h("a", { href: `#/capability/${encodeURIComponent(c.id)}` }, n))),
                  h("td", {}, marks.value(`capabilities.nodes.${i}.area`, c.area)),
                  h("td", {}, marks.value(`capabilities.nodes.${i}.jurisdiction`, c.jurisdiction),
                    c.usml ? ` USML ${c.usml}` : ""),
                ),
              ),
            ),
          ),
        ),
      sups &&
        h(
          "section",
          { class: "card", "data-testid": "supplier-results" },
          h("h2", {}, `Suppliers (${sups.totalCount})`),
          h(
            "table",
            {},
            h("thead", {}, h("tr", {}, h("th", {}, "name"), h("th", {}, "nation"), h("th", {}, "CAGE"))),
            h(
              "tbody",
              {},
              sups.nodes.map((s, i) =>
                h(
                  "tr",
                  {},
                  h("td", {}, marks.value(`suppliers.nodes.${i}.name`, s.name, (n: string) =>
                    h("a", { href: `#/chain/${encodeURIComponent(s.id)}` }, n))),
                  h("td", {}, s.nation ? s.nation.code : h("span", { class: "muted" }, "not released")),
                  h("td", {}, marks.value(`suppliers.nodes.${i}.cage`, s.cage)),
                ),
              ),
            ),
          ),
        ),
    ),
    h("p", { class: "muted" }, "A capability opens its gaps and concentration; a supplier opens its supply chain."),
    computedNote(marks.nation),
  );
}
