// Sign-in. Development: a demo client of dibx's own issuer, by OAuth client credentials (as
// the README's curl does). Production: OAuth authorization code with PKCE (RFC 7636) against
// the configured issuer. Either way the page ends up holding one access token for one nation.

import * as session from "./session";

export interface DemoClient {
  clientId: string;
  secret: string;
  nation: string;
  org: string;
}

export interface OidcConfig {
  authorizationEndpoint: string;
  tokenEndpoint: string;
  clientId: string;
  scope: string;
  redirectUri: string;
}

export interface ExplorerConfig {
  devIssuer: { tokenEndpoint: string; clients: DemoClient[] } | null;
  oidc: OidcConfig | null;
  nationsOfConcern: string[];
}

let cached: ExplorerConfig | null = null;

export async function config(): Promise<ExplorerConfig> {
  if (cached === null) {
    const response = await fetch("config.json", { cache: "no-store", credentials: "omit" });
    if (!response.ok) throw new Error(`explorer configuration: HTTP ${response.status}`);
    cached = (await response.json()) as ExplorerConfig;
  }
  return cached;
}

interface TokenResponse {
  access_token?: string;
  expires_in?: number;
  error?: string;
  error_description?: string;
}

async function tokenRequest(url: string, form: URLSearchParams, basic?: string): Promise<session.Session> {
  const headers: Record<string, string> = { "Content-Type": "application/x-www-form-urlencoded" };
  if (basic) headers.Authorization = `Basic ${basic}`;
  const response = await fetch(url, {
    method: "POST",
    headers,
    body: form.toString(),
    credentials: "omit",
    cache: "no-store",
  });
  const body = (await response.json()) as TokenResponse;
  if (!response.ok || !body.access_token) {
    throw new Error(body.error_description || body.error || `token endpoint: HTTP ${response.status}`);
  }
  const ttl = typeof body.expires_in === "number" ? body.expires_in : 300;
  const fresh = { token: body.access_token, expiresAt: Date.now() + ttl * 1000 - 5000, viewer: null };
  session.save(fresh);
  return fresh;
}

function formEncode(value: string): string {
  // RFC 6749 2.3.1: client id and secret are form-urlencoded before Basic encoding.
  return encodeURIComponent(value).replace(/%20/g, "+");
}

export async function signInDemo(client: DemoClient, tokenEndpoint: string): Promise<void> {
  const basic = btoa(`${formEncode(client.clientId)}:${formEncode(client.secret)}`);
  await tokenRequest(tokenEndpoint, new URLSearchParams({ grant_type: "client_credentials" }), basic);
}

// -- PKCE ---------------------------------------------------------------------------------

const PKCE_KEY = "dibx.explorer.pkce";

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

export async function startAuthorization(oidc: OidcConfig): Promise<void> {
  const verifier = randomString(48);
  const state = randomString(16);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }));
  const url = new URL(oidc.authorizationEndpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: oidc.clientId,
    redirect_uri: oidc.redirectUri,
    scope: oidc.scope,
    state,
    code_challenge: base64url(digest),
    code_challenge_method: "S256",
  }).toString();
  window.location.assign(url.toString());
}

/** On return from the issuer (`?code=...&state=...`): exchange the code. False if not a return. */
export async function finishAuthorization(oidc: OidcConfig | null): Promise<boolean> {
  const params = new URLSearchParams(window.location.search);
  const code = params.get("code");
  const error = params.get("error");
  if (!code && !error) return false;
  const saved = sessionStorage.getItem(PKCE_KEY);
  sessionStorage.removeItem(PKCE_KEY);
  // Drop code and state from the address bar and history whatever happens next.
  window.history.replaceState(null, "", window.location.pathname + window.location.hash);
  if (error) throw new Error(`sign-in refused: ${params.get("error_description") || error}`);
  if (oidc === null || saved === null) throw new Error("unexpected sign-in response");
  const { verifier, state } = JSON.parse(saved) as { verifier: string; state: string };
  if (params.get("state") !== state) throw new Error("sign-in response does not match this tab");
  await tokenRequest(
    oidc.tokenEndpoint,
    new URLSearchParams({
      grant_type: "authorization_code",
      code: code as string,
      redirect_uri: oidc.redirectUri,
      client_id: oidc.clientId,
      code_verifier: verifier,
    }),
  );
  return true;
}
