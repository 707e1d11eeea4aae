// The caller's token and who dibx says they are. Kept in sessionStorage: it ends with the tab.

export interface Viewer {
  subject: string;
  nation: string;
  org: string | null;
  scopes: string[];
  groups: string[];
  policyVersion: string;
}

export interface Session {
  token: string;
  expiresAt: number; // ms since the epoch
  viewer: Viewer | null;
}

const KEY = "dibx.explorer.session";

export function current(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    const session = JSON.parse(raw) as Session;
    if (typeof session.token !== "string" || session.expiresAt <= Date.now()) {
      clear();
      return null;
    }
    return session;
  } catch {
    clear();
    return null;
  }
}

export function save(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clear(): void {
  sessionStorage.removeItem(KEY);
}
