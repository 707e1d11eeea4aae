// HHI as plain SVG: one bar per nation (its share of released capacity, labelled with its
// contribution share² to the index) and a gauge of the index against the guideline bands.

import { fmt, pct, s } from "./dom";

export interface NationShare {
  nation: string | null;
  share: number | null;
  capacity: number | null;
  providers: number;
}

const WIDTH = 520;
const LABEL = 110;
const ROW = 24;
// Bands the server's `levelByNation` uses (2023 US merger guidelines).
const MODERATE = 1000;
const HIGH = 1800;

export function shareBars(rows: NationShare[]): SVGElement {
  const plot = WIDTH - LABEL - 170;
  const sorted = [...rows].sort((a, b) => (b.share ?? -1) - (a.share ?? -1));
  const height = sorted.length * ROW + 8;
  return s(
    "svg",
    { class: "bars", width: "100%", viewBox: `0 0 ${WIDTH} ${height}`, role: "img",
      "aria-label": "Share of released capacity by nation", "data-testid": "hhi-bars" },
    sorted.map((r, i) => {
      const y = i * ROW + 4;
      const share = r.share ?? 0;
      const label = r.nation ?? "nation withheld";
      const contribution = r.share === null ? "" : ` (HHI +${fmt((r.share * 100) ** 2)})`;
      return s(
        "g",
        { "data-nation": label },
        s("text", { x: 0, y: y + 15 }, label),
        s("rect", {
          class: r.nation === null || r.share === null ? "bar unknown" : "bar",
          x: LABEL, y: y + 3, height: ROW - 8, width: Math.max(1, share * plot),
        }),
        s("text", { x: LABEL + share * plot + 6, y: y + 15 }, `${pct(r.share)}${contribution}`),
      );
    }),
  );
}

export function hhiGauge(hhi: number | null, level: string | null): SVGElement {
  const plot = WIDTH - 20;
  const x = (v: number) => 10 + (v / 10000) * plot;
  return s(
    "svg",
    { class: "bars", width: "100%", viewBox: `0 0 ${WIDTH} 54`, role: "img",
      "aria-label": `HHI by nation ${hhi === null ? "unknown" : fmt(hhi)}` },
    s("rect", { class: "gauge-bg", x: 10, y: 6, width: plot, height: 16 }),
    hhi !== null && s("rect", { class: `gauge ${level ?? ""}`, x: 10, y: 6, width: Math.max(1, x(hhi) - 10), height: 16 }),
    [MODERATE, HIGH].map((t) => [
      s("line", { class: "threshold", x1: x(t), x2: x(t), y1: 2, y2: 26 }),
      s("text", { x: x(t) - 14, y: 40 }, fmt(t)),
    ]),
    s("text", { x: 10, y: 52 }, "0"),
    s("text", { x: WIDTH - 50, y: 52 }, "10,000"),
  );
}
