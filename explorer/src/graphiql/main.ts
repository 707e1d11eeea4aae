// GraphiQL served by dibx itself: bundled, no CDN, under a strict Content-Security-Policy.
// The token is kept in memory only and sent as the bearer header; the releasability banner
// and the withheld list of the last response are shown beside the result.
import { GraphiQL } from "graphiql";
import { createElement as h, useCallback, useEffect, useRef, useState } from "react";
import { createRoot } from "react-dom/client";
import { EXAMPLE_QUERY } from "./example";

type Withheld = { path: string; marking: string };
type Releasability = { banner: string; nation: string; withheld: Withheld[]; policyVersion: string };
type DemoClient = { clientId: string; secret: string; nation: string; org: string | null };
type Params = { query: string; operationName?: string | null; variables?: unknown };
type Options = { headers?: Record<string, string> } | undefined;

const INTROSPECTION = "IntrospectionQuery";

async function demoClients(): Promise<DemoClient[]> {
  try {
    const reply = await fetch("/explorer/config.json", { credentials: "omit" });
    if (!reply.ok) return [];
    const config = (await reply.json()) as { devIssuer: { clients: DemoClient[] } | null };
    return config.devIssuer?.clients ?? [];
  } catch {
    return [];
  }
}

async function demoToken(client: DemoClient): Promise<string> {
  const reply = await fetch("/oauth/token", {
    method: "POST",
    credentials: "omit",
    headers: {
      authorization: `Basic ${btoa(`${client.clientId}:${client.secret}`)}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=client_credentials",
  });
  const body = (await reply.json()) as { access_token?: string };
  return body.access_token ?? "";
}

function Panel(props: { shown: Releasability | null }) {
  const shown = props.shown;
  if (shown === null) {
    return h(
      "aside",
      { className: "dibx-panel", "data-testid": "releasability", "data-state": "empty" },
      h("h2", null, "Releasability"),
      h("p", { className: "dibx-hint" }, "Run a query: its banner and withheld fields show here."),
    );
  }
  return h(
    "aside",
    { className: "dibx-panel", "data-testid": "releasability", "data-state": "shown" },
    h("h2", null, "Releasability"),
    h("p", { className: "dibx-banner", "data-testid": "banner" }, shown.banner || "(nothing released)"),
    h("p", { className: "dibx-hint" }, `Released to ${shown.nation} · policy ${shown.policyVersion}`),
    h("h3", null, `Withheld (${shown.withheld.length})`),
    shown.withheld.length === 0
      ? h("p", { className: "dibx-hint" }, "Nothing was withheld from this response.")
      : h(
          "ul",
          { className: "dibx-withheld", "data-testid": "withheld-list" },
          ...shown.withheld.map((w) =>
            h(
              "li",
              { key: w.path, "data-testid": "withheld", "data-path": w.path },
              h("code", null, w.path),
              " ",
              h("span", { className: "dibx-marking" }, w.marking),
            ),
          ),
        ),
  );
}

function App() {
  const [draft, setDraft] = useState("");
  const [token, setToken] = useState("");
  const [clients, setClients] = useState<DemoClient[]>([]);
  const [shown, setShown] = useState<Releasability | null>(null);
  const current = useRef("");

  useEffect(() => {
    void demoClients().then(setClients);
  }, []);

  const apply = (value: string) => {
    current.current = value.trim();
    setToken(value.trim());
    setShown(null);
  };

  const fetcher = useCallback(async (params: Params, options: Options) => {
    const headers: Record<string, string> = {
      ...(options?.headers ?? {}),
      "content-type": "application/json",
      // application/json: a request error answers 200 with its errors (GraphQL over HTTP),
      // so a typo shows in the result pane, not as a failed load in the console.
      accept: "application/json",
    };
    if (!current.current) {
      // Nothing is sent without a token: /graphql would only answer 401.
      return { errors: [{ message: "Enter a bearer token above (or pick a demo token) to run queries." }] };
    }
    headers.authorization = `Bearer ${current.current}`;
    const reply = await fetch("/graphql", {
      method: "POST",
      credentials: "omit",
      headers,
      body: JSON.stringify(params),
    });
    const body = (await reply.json()) as { extensions?: { releasability?: Releasability } };
    const released = body.extensions?.releasability;
    if (params.operationName !== INTROSPECTION && released) setShown(released);
    return body;
  }, []);

  const bar = h(
    "form",
    {
      className: "dibx-bar",
      onSubmit: (event: Event) => {
        event.preventDefault();
        apply(draft);
      },
    },
    h("strong", { className: "dibx-title" }, "dibx GraphiQL"),
    h("label", { htmlFor: "dibx-token" }, "Bearer token"),
    h("input", {
      id: "dibx-token",
      type: "password",
      autoComplete: "off",
      spellCheck: false,
      placeholder: "paste an access token",
      value: draft,
      "data-testid": "token",
      onChange: (event: { target: HTMLInputElement }) => setDraft(event.target.value),
    }),
    h("button", { type: "submit", "data-testid": "use-token" }, "Use token"),
    clients.length > 0
      ? h(
          "select",
          {
            "aria-label": "Demo sign-in",
            "data-testid": "demo-client",
            value: "",
            onChange: (event: { target: HTMLSelectElement }) => {
              const client = clients.find((c) => c.clientId === event.target.value);
              if (client)
                void demoToken(client).then((value) => {
                  setDraft(value);
                  apply(value);
                });
            },
          },
          h("option", { value: "" }, "demo token for…"),
          ...clients.map((c) => h("option", { key: c.clientId, value: c.clientId }, c.nation)),
        )
      : null,
    h("span", { className: "dibx-hint", "data-testid": "token-state" }, token ? "token in use" : "no token"),
  );

  return h(
    "div",
    { className: "dibx-page" },
    bar,
    h(
      "div",
      { className: "dibx-body" },
      // Remounted for a new token, so the schema is introspected again with it.
      h(
        "div",
        { className: "dibx-graphiql" },
        h(GraphiQL, {
          key: token,
          fetcher,
          defaultQuery: EXAMPLE_QUERY,
          isHeadersEditorEnabled: true,
          shouldPersistHeaders: false,
        }),
      ),
      h(Panel, { shown }),
    ),
  );
}

const root = document.getElementById("root");
if (root) createRoot(root).render(h(App));
