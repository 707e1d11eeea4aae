// The explorer: hash routes, each drawn from one response of dibx's GraphQL API.

import { gql, SignInRequired, Superseded } from "./api";
import * as auth from "./auth";
import { h, replace } from "./dom";
import { failure, loading } from "./frame";
import * as session from "./session";
import { capability } from "./views/capability";
import { chain } from "./views/chain";
import { challenges, newChallenge } from "./views/challenges";
import { search } from "./views/search";
import { signIn } from "./views/signin";

let generation = 0;

function parse(): { parts: string[]; params: URLSearchParams } {
  const raw = window.location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?", 2);
  return { parts: (path ?? "").split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query ?? "") };
}

function header(): void {
  const current = session.current();
  const nav = document.getElementById("nav") as HTMLElement;
  const who = document.getElementById("who") as HTMLElement;
  if (current === null) {
    replace(nav);
    replace(who, h("a", { href: "#/signin" }, "Sign in"));
    return;
  }
  replace(nav, h("a", { href: "#/search" }, "Search"), h("a", { href: "#/challenges" }, "Challenges"));
  const v = current.viewer;
  replace(
    who,
    h("span", { "data-testid": "acting-for" }, v ? `${v.nation} · ${v.org ?? v.subject}` : "signed in"),
    " ",
    h("button", { class: "secondary", onclick: () => { session.clear(); window.location.hash = "#/signin"; } }, "Sign out"),
  );
}

const VIEWER = `query ExplorerViewer { viewer { subject nation org scopes groups policyVersion } }`;

async function afterSignIn(): Promise<void> {
  const result = await gql<{ viewer: session.Viewer }>(VIEWER);
  const current = session.current();
  if (current !== null && result.data) session.save({ ...current, viewer: result.data.viewer });
  window.location.hash = "#/search";
  header();
}

async function route(): Promise<void> {
  const mine = ++generation;
  header();
  const { parts, params } = parse();
  const [name, id] = parts;
  if (name === "signin" || session.current() === null) {
    await signIn(afterSignIn);
    return;
  }
  loading(name ?? "search");
  try {
    switch (name) {
      case "capability":
        await capability(id ?? "", params);
        break;
      case "chain":
        await chain(id ?? "", params);
        break;
      case "challenges":
        await challenges();
        break;
      case "challenge":
        await newChallenge(params);
        break;
      default:
        await search(params);
    }
  } catch (err) {
    if (mine !== generation || err instanceof Superseded) return;
    if (err instanceof SignInRequired) {
      window.location.hash = "#/signin";
      return;
    }
    failure(name ?? "search", `Could not load this view: ${(err as Error).message}`);
  }
}

async function start(): Promise<void> {
  try {
    const config = await auth.config();
    if (await auth.finishAuthorization(config.oidc)) {
      await afterSignIn();
      return;
    }
  } catch (err) {
    failure("signin", (err as Error).message);
    return;
  }
  window.addEventListener("hashchange", () => void route());
  await route();
}

void start();
