import * as auth from "../auth";
import { h, replace } from "../dom";
import { root } from "../frame";

export async function signIn(onSignedIn: () => Promise<void>): Promise<void> {
  const config = await auth.config();
  const main = root();
  const status = h("p", { role: "status" });
  const run = async (action: () => Promise<void>) => {
    replace(status, "Signing in…");
    try {
      await action();
      await onSignedIn();
    } catch (err) {
      replace(status, h("span", { class: "error" }, String((err as Error).message || err)));
    }
  };
  const dev = config.devIssuer;
  const oidc = config.oidc;
  replace(
    main,
    h("h1", {}, "Sign in"),
    h(
      "p",
      {},
      "The explorer reads dibx through its GraphQL API with your own access token: ",
      "it shows exactly what the API releases to the nation you act for, never more.",
    ),
    oidc &&
      h(
        "section",
        { class: "card" },
        h("h2", {}, "Your organisation's sign-in"),
        h("button", { onclick: () => run(() => auth.startAuthorization(oidc)) }, "Sign in"),
      ),
    dev &&
      h(
        "section",
        { class: "card" },
        h("h2", {}, "Development issuer: demo clients"),
        h("p", { class: "muted" }, "Demo secrets are public and for development only."),
        h(
          "div",
          { class: "clients" },
          dev.clients.map((c) =>
            h(
              "button",
              {
                "data-testid": `signin-${c.nation}`,
                onclick: () => run(() => auth.signInDemo(c, dev.tokenEndpoint)),
              },
              `${c.nation}`,
              h("small", {}, `${c.org} · ${c.clientId}`),
            ),
          ),
        ),
      ),
    !dev && !oidc && h("p", { class: "error" }, "No sign-in is configured for the explorer."),
    status,
  );
  main.dataset.view = "signin";
  main.dataset.state = "ready";
}
