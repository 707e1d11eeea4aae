// Documents a Relay app writes against dibx: paginated, refetchable fragments on root and
// nested connections. Only compiled by relay-compiler (tests/clients/relay/check.sh), never run.
import { graphql } from "react-relay";

export const providers = graphql`
  fragment DirectoryProviders_capability on Capability
  @refetchable(queryName: "DirectoryProvidersPaginationQuery")
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 10 }
    cursor: { type: "String" }
  ) {
    key
    providers(first: $count, after: $cursor)
      @connection(key: "DirectoryProviders_providers") {
      edges {
        cursor
        capacity
        node { id key name }
      }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`;

export const supplierLinks = graphql`
  fragment DirectorySupplierLinks_supplier on Supplier
  @refetchable(queryName: "DirectorySupplierLinksPaginationQuery")
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 10 }
    cursor: { type: "String" }
  ) {
    suppliers(last: $count, before: $cursor)
      @connection(key: "DirectorySupplierLinks_suppliers") {
      edges { cursor node { id key } }
    }
  }
`;

export const suppliers = graphql`
  fragment DirectorySuppliers_query on Query
  @refetchable(queryName: "DirectorySuppliersPaginationQuery")
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  ) {
    suppliers(first: $count, after: $cursor) @connection(key: "DirectorySuppliers_suppliers") {
      totalCount
      edges {
        cursor
        node { id key name }
      }
    }
  }
`;

export const query = graphql`
  query DirectoryQuery {
    ...DirectorySuppliers_query
  }
`;
