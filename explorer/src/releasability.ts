// Releasability on screen: the banner of the response a view was drawn from (top and bottom),
// each withheld field as "withheld" with its marking and a challenge action, and the list of
// everything the response withheld.

import type { Releasability, Withheld } from "./api";
import { h, type Child } from "./dom";

/** A record the API accepts challenges for: Supplier and Capability fields. */
export interface Target {
  id: string;
  type: "Supplier" | "Capability";
  label: string;
}

export class Marks {
  readonly banner: string;
  readonly nation: string;
  readonly withheld: Withheld[];
  private readonly byPath = new Map<string, string | null>();
  private readonly records = new Map<string, Target>();
  private readonly labels = new Map<string, string>();

  constructor(r: Releasability | null) {
    this.banner = r?.banner ?? "UNMARKED";
    this.nation = r?.nation ?? "";
    this.withheld = r?.withheld ?? [];
    for (const w of this.withheld) this.byPath.set(w.path, w.marking);
  }

  /** Says which challengeable record sits at `path` in the response. */
  record(path: string, target: Target): void {
    this.records.set(path, target);
  }

  /** Names what sits at `path` (an edge, say) in the list of withheld fields. */
  describe(path: string, label: string): void {
    this.labels.set(path, label);
  }

  isWithheld(path: string): boolean {
    return this.byPath.has(path);
  }

  /** A value at `path`: the value, or the withheld chip when the response withheld it. */
  value(path: string, value: unknown, render: (v: never) => Child = (v) => String(v)): Child {
    if (this.byPath.has(path)) return this.chip(path, this.byPath.get(path) ?? null);
    if (value === null || value === undefined) return h("span", { class: "muted" }, "–");
    return render(value as never);
  }

  chip(path: string, marking: string | null): HTMLElement {
    const dot = path.lastIndexOf(".");
    const field = path.slice(dot + 1);
    const target = this.records.get(path.slice(0, dot));
    const action =
      target === undefined
        ? h(
            "span",
            { class: "nochallenge", title: "dibx takes challenges of supplier and capability fields" },
            "(edge field)",
          )
        : h("a", { href: challengeHref(target, field, marking), "data-testid": "challenge" }, "challenge");
    return h(
      "span",
      { class: "withheld", "data-testid": "withheld", "data-path": path, title: `Withheld from you: ${path}` },
      "withheld",
      h("span", { class: "marking" }, marking ?? "marking concealed"),
      action,
    );
  }

  /** Every withheld path of the response, whether or not the view drew it inline. */
  list(): HTMLElement {
    if (this.withheld.length === 0) {
      return h("section", { class: "card", "data-testid": "withheld-list" }, h("h2", {}, "Withheld from you"),
        h("p", { class: "muted" }, "Nothing in this view was withheld."));
    }
    return h(
      "section",
      { class: "card", "data-testid": "withheld-list" },
      h("h2", {}, `Withheld from you (${this.withheld.length})`),
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, h("th", {}, "field"), h("th", {}, "record"), h("th", {}, ""))),
        h(
          "tbody",
          {},
          this.withheld.map((w) => {
            const at = w.path.slice(0, w.path.lastIndexOf("."));
            const label = this.records.get(at)?.label ?? this.labels.get(at) ?? "";
            return h("tr", {}, h("td", {}, h("code", {}, w.path)), h("td", {}, label),
              h("td", {}, this.chip(w.path, w.marking)));
          }),
        ),
      ),
    );
  }
}

export function challengeHref(target: Target, field: string | null, marking: string | null): string {
  const q = new URLSearchParams({ target: target.id, type: target.type, label: target.label });
  if (field) q.set("field", field);
  if (marking) q.set("marking", marking);
  return `#/challenge/new?${q.toString()}`;
}

export function banner(text: string, where: "top" | "bottom"): HTMLElement {
  const cls = text === "PUBLIC" || text === "UNCLASSIFIED" ? "banner public" : "banner";
  return h("div", { class: cls, role: "note", "data-testid": `banner-${where}` }, text);
}

export function computedNote(nation: string): HTMLElement {
  return h(
    "p",
    { class: "note", "data-testid": "computed-note" },
    `Gaps, counts, shares and paths here are computed over what is released to ${nation || "you"}: `,
    "records hidden from you are not counted, and withheld values are left out. ",
    "Another nation may see different figures for the same question.",
  );
}
