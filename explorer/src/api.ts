// The only way the explorer reads data: POST /graphql with the caller's own bearer token.
// Whatever the page shows is what that response released; nothing is cached across callers.

import * as session from "./session";

export interface Withheld {
  path: string;
  marking: string | null;
}

export interface Releasability {
  banner: string;
  nation: string;
  withheld: Withheld[];
  policyVersion: string;
}

export interface GqlError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; field?: string };
}

export interface Result<T> {
  data: T | null;
  errors: GqlError[];
  releasability: Releasability | null;
}

/** The token is missing, expired or refused: the caller must sign in again. */
export class SignInRequired extends Error {}

/** The user moved on while the request was out: its answer must not draw over the new view. */
export class Superseded extends Error {}

export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<Result<T>> {
  const current = session.current();
  if (current === null) throw new SignInRequired("not signed in");
  const route = window.location.hash;
  const response = await fetch("/graphql", {
    method: "POST",
    headers: {
      Authorization: `Bearer ${current.token}`,
      "Content-Type": "application/json",
      Accept: "application/graphql-response+json, application/json",
    },
    body: JSON.stringify({ query, variables }),
    credentials: "omit",
    cache: "no-store",
  });
  if (response.status === 401) {
    session.clear();
    throw new SignInRequired("the token was refused");
  }
  let body: { data?: T | null; errors?: GqlError[]; extensions?: { releasability?: Releasability } };
  try {
    body = await response.json();
  } catch {
    throw new Error(`dibx answered ${response.status} without a GraphQL body`);
  }
  if (window.location.hash !== route) throw new Superseded(route);
  return {
    data: body.data ?? null,
    errors: body.errors ?? [],
    releasability: body.extensions?.releasability ?? null,
  };
}

export function errorText(errors: GqlError[]): string {
  return errors
    .map((e) => {
      const code = e.extensions?.code ? ` [${e.extensions.code}]` : "";
      const field = e.extensions?.field ? ` (${e.extensions.field})` : "";
      return `${e.message}${field}${code}`;
    })
    .join("; ");
}
