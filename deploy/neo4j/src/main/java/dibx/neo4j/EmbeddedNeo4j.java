package dibx.neo4j;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;

/**
 * Neo4j Community Edition embedded in a JVM of its own, serving Bolt on loopback only.
 *
 * <pre>
 * java -jar dibx-neo4j.jar DATA_DIR PORT [--page-cache SIZE] [--tx-memory SIZE]
 *     [--min-replan-interval SECONDS] [--exit-on-stdin-eof]
 * </pre>
 *
 * <p>DATA_DIR becomes the Neo4j home: stores under DATA_DIR/data, logs under DATA_DIR/logs.
 * SIZE accepts Neo4j byte units (512m, 1g). Defaults come from DIBX_NEO4J_PAGE_CACHE and
 * DIBX_NEO4J_TX_MEMORY, else 512m and 256m: plenty for tests and dev data on a small box.
 * Once Bolt is up, one line {@code dibx-neo4j ready bolt://127.0.0.1:PORT} goes to stdout.
 * SIGTERM (or SIGINT) shuts the DBMS down cleanly through a shutdown hook.
 */
public final class EmbeddedNeo4j {
    private static final String USAGE =
            "usage: java -jar dibx-neo4j.jar DATA_DIR PORT [--page-cache SIZE] [--tx-memory SIZE]"
                    + " [--min-replan-interval SECONDS] [--exit-on-stdin-eof]";

    private EmbeddedNeo4j() {}

    public static void main(String[] args) {
        // What the neo4j launcher sets, done here so any launch of the jar gets them. They must
        // be set before Netty and Log4j initialise, i.e. before run() touches Neo4j classes.
        System.setProperty("io.netty.tryReflectionSetAccessible", "true");
        System.setProperty("log4j2.disable.jmx", "true");
        try {
            run(args);
        } catch (IllegalArgumentException e) {
            System.err.println("dibx-neo4j: " + e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
        } catch (Throwable t) {
            System.err.println("dibx-neo4j failed: " + t);
            t.printStackTrace();
            // halt, not exit: a half-started DBMS may hold non-daemon threads.
            Runtime.getRuntime().halt(1);
        }
    }

    private static void run(String[] args) throws Exception {
        if (args.length < 2) {
            throw new IllegalArgumentException("DATA_DIR and PORT are required");
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int port = parsePort(args[1]);
        long pageCache = ByteUnit.parse(envOr("DIBX_NEO4J_PAGE_CACHE", "512m"));
        long txMemory = ByteUnit.parse(envOr("DIBX_NEO4J_TX_MEMORY", "256m"));
        Duration minReplanInterval = null; // Neo4j's default (10 s) unless given
        boolean exitOnStdinEof = false;
        for (int i = 2; i < args.length; i++) {
            switch (args[i]) {
                case "--page-cache" -> pageCache = ByteUnit.parse(valueAfter(args, i++));
                case "--tx-memory" -> txMemory = ByteUnit.parse(valueAfter(args, i++));
                case "--min-replan-interval" ->
                        minReplanInterval = Duration.ofSeconds(Long.parseLong(valueAfter(args, i++)));
                case "--exit-on-stdin-eof" -> exitOnStdinEof = true;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        Files.createDirectories(home);

        // The user log (startup problems, warnings) goes to stdout at WARN; the verbose
        // internal log stays in DATA_DIR/logs/debug.log where Neo4j always writes it.
        Log4jLogProvider userLog = new Log4jLogProvider(System.out, Level.WARN);
        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home)
                .setUserLogProvider(userLog)
                .setConfig(BoltConnector.enabled, true)
                // Loopback only: nothing off this machine can reach the server.
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                // Auth is off: the socket is loopback-only and belongs to one developer or one
                // test run; dibx enforces its own access control above the database.
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, pageCache)
                // Bounds what runaway queries may allocate, so a bad test fails fast
                // instead of pushing the JVM into GC thrash.
                .setConfig(GraphDatabaseSettings.memory_transaction_global_max_size, txMemory)
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                // Dev and test stores are small; don't reserve disk for log files up front.
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "1 files")
                // Netty's default 5 s quiet period, paid once per Bolt event-loop group, made
                // every shutdown take ~11 s; connections are already closed by then.
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout,
                        Duration.ofSeconds(5))
                // Cache a plan per query text and parameter types, not also per power of ten
                // of each list's and string's length: otherwise a caller with more groups, a
                // longer key or a second filter value plans the query again, and the change
                // feed's query takes seconds (tens on a busy machine) to plan.
                .setConfig(GraphDatabaseInternalSettings.cypher_size_hint_parameters, false);
        if (minReplanInterval != null) {
            // A test session empties and refills a tiny graph hundreds of times: with the
            // default interval every such change replans every cached query (seconds each).
            builder.setConfig(GraphDatabaseSettings.cypher_min_replan_interval, minReplanInterval);
        }
        DatabaseManagementService dbms = builder.build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("dibx-neo4j stopping");
            try {
                dbms.shutdown();
            } finally {
                userLog.close();
                System.out.println("dibx-neo4j stopped");
                System.out.flush();
                stopped.countDown();
            }
        }, "dibx-neo4j-shutdown"));

        String dbName = GraphDatabaseSettings.DEFAULT_DATABASE_NAME;
        if (!dbms.database(dbName).isAvailable(Duration.ofMinutes(2).toMillis())) {
            throw new IllegalStateException("database '" + dbName + "' did not become available");
        }
        System.out.println("dibx-neo4j ready bolt://127.0.0.1:" + port);
        System.out.flush();

        if (exitOnStdinEof) {
            // Lets a test session tie the server to its own lifetime: when the parent dies,
            // even by SIGKILL, the pipe closes and the server goes down instead of leaking.
            Thread watcher = new Thread(EmbeddedNeo4j::exitOnStdinEof, "dibx-neo4j-stdin-watch");
            watcher.setDaemon(true);
            watcher.start();
        }
        // The DBMS threads keep running; park main until the shutdown hook has finished.
        while (!stopped.await(1, TimeUnit.HOURS)) {
            // keep waiting
        }
    }

    private static void exitOnStdinEof() {
        try (InputStream in = System.in) {
            byte[] buf = new byte[256];
            while (in.read(buf) >= 0) {
                // discard whatever the parent writes
            }
        } catch (IOException ignored) {
            // a broken pipe means the parent is gone as well
        }
        System.exit(0);
    }

    private static int parsePort(String text) {
        try {
            int port = Integer.parseInt(text);
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("PORT out of range: " + text);
            }
            return port;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("PORT is not a number: " + text);
        }
    }

    private static String valueAfter(String[] args, int i) {
        if (i + 1 >= args.length) {
            throw new IllegalArgumentException(args[i] + " needs a value");
        }
        return args[i + 1];
    }

    private static String envOr(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isBlank() ? fallback : value;
    }
}
