// Bundles the explorer into static files inside the Python package (no CDN at run time).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "dibx", "app", "explorer_static");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, "src", "main.ts")],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  legalComments: "external",
  outfile: join(out, "app.js"),
  logLevel: "warning",
});
// GraphiQL, served by dibx at GET /graphql (dibx.app.graphiql), its assets under
// /explorer/graphiql/. React's production build; the fonts stay inlined as data: URLs.
await build({
  entryPoints: {
    graphiql: join(here, "src", "graphiql", "main.ts"),
    "graphiql-style": join(here, "src", "graphiql", "style.css"),
  },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  legalComments: "external",
  define: { "process.env.NODE_ENV": '"production"' },
  outdir: join(out, "graphiql"),
  logLevel: "warning",
});
for (const file of ["index.html", "style.css", "icon.svg"]) {
  copyFileSync(join(here, "src", file), join(out, file));
}
// Marks a complete build: the server serves the explorer only when this file exists.
writeFileSync(join(out, "BUILT"), "dibx explorer\n");
