// graphql-schema-linter over dibx's SDL (`dibx schema`), run by tests/clients/test_schema_lint.py.
// Every built-in rule of 3.0.1 is listed; the ones left out are left out for the reason beside.
module.exports = {
  rules: [
    "arguments-have-descriptions",
    "defined-types-are-used",
    "deprecations-have-a-reason",
    "descriptions-are-capitalized",
    "enum-values-all-caps",
    "enum-values-have-descriptions",
    "fields-are-camel-cased",
    "fields-have-descriptions",
    "input-object-values-are-camel-cased",
    "input-object-values-have-descriptions",
    "relay-connection-arguments-spec",
    "relay-connection-types-spec",
    "relay-page-info-spec",
    "types-are-capitalized",
    "types-have-descriptions",
    // Not checked: type-fields-sorted-alphabetically, input-object-fields-sorted-alphabetically,
    // interface-fields-sorted-alphabetically, enum-values-sorted-alphabetically.
    // Fields keep the order of their declaration (dibx.graph.model for the record types): the
    // key and name first, then the facts, then relations; enum values in order of meaning
    // (KEY first among sort fields, UPHOLD before CHANGE). Docs and GraphiQL show that order;
    // alphabetical order would scatter it and tell a reader nothing more.
  ],
};
