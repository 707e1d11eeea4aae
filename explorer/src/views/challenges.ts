import { errorText, gql } from "../api";
import { h, replace } from "../dom";
import { errors, show } from "../frame";
import { banner, Marks } from "../releasability";

const LIST = `query ExplorerChallenges($first: Int!) {
  markingChallenges(first: $first) {
    totalCount
    nodes {
      id state targetId targetType field currentMarking markingInForce proposedMarking
      justification anonymous challengerNation createdAt dueAt overdue decision decidedAt
    }
  }
}`;

const FILE = `mutation ExplorerChallengeMarking($input: ChallengeMarkingInput!) {
  challengeMarking(input: $input) {
    acknowledgement dueAt markingStaysInForce
    challenge { id state field currentMarking proposedMarking }
  }
}`;

interface Challenge {
  id: string;
  state: string;
  targetId: string;
  targetType: string;
  field: string | null;
  currentMarking: string | null;
  markingInForce: string | null;
  proposedMarking: string;
  justification: string;
  anonymous: boolean;
  challengerNation: string;
  createdAt: string;
  dueAt: string;
  overdue: boolean;
  decision: string | null;
  decidedAt: string | null;
}

function day(iso: string | null): string {
  return iso ? iso.slice(0, 10) : "";
}

export async function challenges(): Promise<void> {
  const result = await gql<{ markingChallenges: { totalCount: number; nodes: Challenge[] } }>(LIST, { first: 100 });
  const marks = new Marks(result.releasability);
  const page = result.data?.markingChallenges;
  show(
    "challenges",
    marks,
    h("h1", {}, "Marking challenges"),
    errors(result),
    h("p", {}, "Challenges you may see: those filed by your nation on records you can see. ",
      "To file one, follow “challenge” next to any withheld field, or open a record and challenge its marking."),
    page &&
      h(
        "section",
        { class: "card", "data-testid": "challenge-list" },
        h("h2", {}, `${page.totalCount} challenges`),
        page.nodes.length === 0
          ? h("p", { class: "muted" }, "None yet.")
          : h(
              "table",
              {},
              h("thead", {}, h("tr", {}, ["filed", "record", "field", "marking", "proposed", "state", "due"].map((x) => h("th", {}, x)))),
              h(
                "tbody",
                {},
                page.nodes.map((c) =>
                  h(
                    "tr",
                    { "data-testid": "challenge-row" },
                    h("td", {}, day(c.createdAt)),
                    h("td", {}, c.targetType === "Capability"
                      ? h("a", { href: `#/capability/${encodeURIComponent(c.targetId)}` }, c.targetType)
                      : h("a", { href: `#/chain/${encodeURIComponent(c.targetId)}` }, c.targetType)),
                    h("td", {}, c.field ?? "(record)"),
                    h("td", { class: "marking-tag" }, c.markingInForce ?? "concealed"),
                    h("td", { class: "marking-tag" }, c.proposedMarking),
                    h("td", {}, c.state, c.decision ? ` (${c.decision.toLowerCase()})` : ""),
                    h("td", { class: c.overdue ? "error" : "" }, day(c.dueAt), c.overdue ? " overdue" : ""),
                  ),
                ),
              ),
            ),
      ),
  );
}

const TARGET = `query ExplorerChallengeTarget($id: ID!) {
  node(id: $id) {
    id
    ... on Supplier { name marking fieldMarkings { field marking released } }
    ... on Capability { name marking fieldMarkings { field marking released } }
  }
}`;

interface TargetRecord {
  id: string;
  name: string | null;
  marking: string;
  fieldMarkings: { field: string; marking: string | null; released: boolean }[];
}

export async function newChallenge(params: URLSearchParams): Promise<void> {
  const target = params.get("target") ?? "";
  const field = params.get("field");
  const result = await gql<{ node: TargetRecord | null }>(TARGET, { id: target });
  const marks = new Marks(result.releasability);
  const record = result.data?.node;
  if (!record) {
    show("challenge-new", marks, errors(result), h("p", {}, "No such record, or it is not visible to you."));
    return;
  }
  // The marking in force, as the API states it to this caller (null if the policy conceals it).
  const portion = field ? record.fieldMarkings.find((f) => f.field === field) : null;
  const inForce = field ? portion?.marking ?? null : record.marking;
  const proposed = h("input", { type: "text", name: "proposed", required: true, size: 40, value: "",
    placeholder: "e.g. CUI//REL TO USA, FVEY", "data-testid": "proposed" });
  const why = h("textarea", { name: "justification", required: true, maxlength: 4000, "data-testid": "justification" });
  const anonymous = h("input", { type: "checkbox", name: "anonymous" });
  const outcome = h("div", { "data-testid": "challenge-outcome" });
  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        replace(outcome, "Filing…");
        const input = {
          target,
          field: field || null,
          proposedMarking: proposed.value,
          justification: why.value,
          anonymous: anonymous.checked,
        };
        const filed = await gql<{ challengeMarking: { acknowledgement: string } | null }>(FILE, { input });
        const receipt = filed.data?.challengeMarking;
        const receiptMarks = new Marks(filed.releasability);
        replace(
          outcome,
          receipt
            ? h("section", { class: "card" }, banner(receiptMarks.banner, "top"),
                h("p", { role: "status" }, receipt.acknowledgement),
                h("a", { href: "#/challenges" }, "Your challenges →"), banner(receiptMarks.banner, "bottom"))
            : h("p", { class: "error", role: "alert" }, errorText(filed.errors)),
        );
      },
    },
    h("h2", {}, "File a marking challenge"),
    h("dl", { class: "facts" },
      h("dt", {}, "record"), h("dd", {}, record.name ?? "name withheld"),
      h("dt", {}, "field"), h("dd", {}, field ?? "the record's own marking"),
      h("dt", {}, "marking in force"), h("dd", { class: "marking-tag", "data-testid": "marking-in-force" },
        inForce ?? "concealed from you"),
      h("dt", {}, "released to you"), h("dd", {}, field ? (portion?.released ? "yes" : "no") : "yes")),
    h("p", {}, h("label", {}, "Proposed marking ", proposed)),
    h("p", {}, h("label", {}, "Justification", why)),
    h("p", {}, h("label", {}, anonymous, " File anonymously (your nation is kept)")),
    h("p", { class: "muted" }, "The marking stays in force while the challenge is pending. ",
      "Challenges are made in good faith and without retribution (32 CFR 2002.50)."),
    h("button", { type: "submit", "data-testid": "file-challenge" }, "File challenge"),
  );
  show("challenge-new", marks, h("h1", {}, "Challenge a marking"), errors(result), form, outcome);
}
