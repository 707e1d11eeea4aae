// The @neo4j/graphql comparison server for bench/run.py: the same graph as dibx, read through
// the Neo4j GraphQL Library's generated schema. It has NO releasability: every record, edge
// and field is visible to every caller, and no marking is checked, combined or audited.
//
//   NEO4J_URI=bolt://127.0.0.1:7687 PORT=4000 node server.mjs
//
// Prints "ready <url>" on stdout once it serves requests.
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { Neo4jGraphQL } from "@neo4j/graphql";
import neo4j from "neo4j-driver";

export const typeDefs = /* GraphQL */ `
  type Supplier @node {
    id: ID!
    name: String
    cage: String
    city: String
    description: String
    employees: Int
    nation: [Nation!]! @relationship(type: "BASED_IN", direction: OUT)
    capabilities: [Capability!]!
      @relationship(type: "PROVIDES", direction: OUT, properties: "Provides")
    suppliers: [Supplier!]!
      @relationship(type: "SOURCES_FROM", direction: OUT, properties: "SourcesFrom")
    customers: [Supplier!]!
      @relationship(type: "SOURCES_FROM", direction: IN, properties: "SourcesFrom")
  }

  type Provides @relationshipProperties {
    capacity: Float
    unit: String
    trl: Int
    leadTimeDays: Int
  }

  type SourcesFrom @relationshipProperties {
    item: String
    share: Float
    sole: Boolean
  }

  type Capability @node {
    id: ID!
    name: String
    area: String
    jurisdiction: String
    providers: [Supplier!]!
      @relationship(type: "PROVIDES", direction: IN, properties: "Provides")
    requires: [Capability!]! @relationship(type: "REQUIRES", direction: OUT)
  }

  type Nation @node {
    code: String!
    name: String
    suppliers: [Supplier!]! @relationship(type: "BASED_IN", direction: IN)
    agreements: [Agreement!]!
      @relationship(type: "MEMBER_OF", direction: OUT, properties: "MemberOf")
  }

  type MemberOf @relationshipProperties {
    since: Date
    until: Date
  }

  type Agreement @node {
    code: String!
    name: String
    kind: String
    members: [Nation!]! @relationship(type: "MEMBER_OF", direction: IN, properties: "MemberOf")
  }
`;

async function main() {
  const uri = process.env.NEO4J_URI ?? "bolt://127.0.0.1:7687";
  const port = Number(process.env.PORT ?? 4000);
  const user = process.env.NEO4J_USER ?? "neo4j";
  const password = process.env.NEO4J_PASSWORD ?? "";
  const driver = neo4j.driver(uri, password ? neo4j.auth.basic(user, password) : undefined, {
    maxConnectionPoolSize: 50,
    disableLosslessIntegers: true,
  });
  const neoSchema = new Neo4jGraphQL({ typeDefs, driver });
  const schema = await neoSchema.getSchema();
  if (process.argv.includes("--print-schema")) {
    const { printSchema } = await import("graphql");
    console.log(printSchema(schema));
    await driver.close();
    return;
  }
  const server = new ApolloServer({ schema, introspection: true });
  const { url } = await startStandaloneServer(server, {
    listen: { port, host: "127.0.0.1" },
    context: async () => ({}),
  });
  console.log(`ready ${url}`);
  const stop = async () => {
    await server.stop();
    await driver.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // Exit with the parent: bench/run.py holds our stdin open while it runs.
  if (process.env.EXIT_ON_STDIN_EOF) {
    process.stdin.on("end", stop);
    process.stdin.resume();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
