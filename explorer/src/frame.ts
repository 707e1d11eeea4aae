// Every view is drawn from one GraphQL response, so the banner it carries is the server's
// roll-up of everything on screen.

import { errorText, type Result } from "./api";
import { h, replace, type Child } from "./dom";
import { banner, Marks } from "./releasability";

export function root(): HTMLElement {
  return document.getElementById("view") as HTMLElement;
}

export function loading(view: string, text = "Loading…"): void {
  const main = root();
  main.dataset.view = view;
  main.dataset.state = "loading";
  replace(main, h("p", { class: "muted" }, text));
}

export function show(view: string, marks: Marks, ...content: Child[]): void {
  const main = root();
  replace(main, banner(marks.banner, "top"), content, marks.list(), banner(marks.banner, "bottom"));
  main.dataset.view = view;
  main.dataset.state = "ready";
}

export function failure(view: string, message: string): void {
  const main = root();
  replace(main, h("p", { class: "error", role: "alert", "data-testid": "error" }, message));
  main.dataset.view = view;
  main.dataset.state = "error";
}

/** The errors of a response, shown above the data it did return. */
export function errors<T>(result: Result<T>): Child {
  return result.errors.length ? h("p", { class: "error", role: "alert" }, errorText(result.errors)) : null;
}
