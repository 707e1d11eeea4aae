// The query GraphiQL opens on: a capability looked up by the key users know, with a field
// that is withheld from most allied callers, so the side panel has something to show.
export const EXAMPLE_QUERY = `# dibx: allied industrial-base directory. Press the run button (Ctrl-Enter).
# Fields you may not read come back null; the panel on the right lists them with their
# marking, under the banner that rolls up everything this response released to you.
query HypersonicStrike {
  capability(key: "cap.hypersonic-strike") {
    name
    area
    classified
    description
    providers(first: 5) {
      edges { node { name nation { code } } }
    }
  }
}
`;
