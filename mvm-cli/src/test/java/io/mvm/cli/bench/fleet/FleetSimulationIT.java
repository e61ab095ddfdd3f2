package io.mvm.cli.bench.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.store.db.DatabaseUrl;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The deterministic fleet simulation at CI scale: the real coordinator with 50 simulated hosts,
 * seeded agent crashes, partitions, slow agents, coordinator restarts and scaling, on SQLite and
 * on PostgreSQL. A failing seed names itself in the message and replays with the same seed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class FleetSimulationIT {
    private static final int HOSTS = 50;
    private EmbeddedPostgres postgres;

    @BeforeAll
    void startPostgres() throws IOException {
        postgres = EmbeddedPostgres.builder().start();
    }

    @AfterAll
    void stopPostgres() throws IOException {
        if (postgres != null) {
            postgres.close();
        }
    }

    @ParameterizedTest(name = "sqlite seed {0}")
    @ValueSource(longs = {1, 2})
    void sqliteFleetSurvivesItsFaults(long seed) throws Exception {
        Path dir = Files.createTempDirectory("mvm-fleetsim-");
        try {
            run(seed, DatabaseUrl.parse(dir.resolve("mvm.db").toString()), dir);
        } finally {
            delete(dir);
        }
    }

    @ParameterizedTest(name = "postgresql seed {0}")
    @ValueSource(longs = {3})
    void postgresFleetSurvivesItsFaults(long seed) throws Exception {
        String name = "fleetsim_" + seed + "_" + ProcessHandle.current().pid();
        execute("CREATE DATABASE " + name);
        Path dir = Files.createTempDirectory("mvm-fleetsim-");
        try {
            run(seed, DatabaseUrl.parse("postgresql://postgres:postgres@localhost:" + postgres.getPort() + "/" + name), dir);
        } finally {
            execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
            delete(dir);
        }
    }

    @Test
    void aBrokenInvariantNamesTheSeedThatReplaysIt() throws Exception {
        Path dir = Files.createTempDirectory("mvm-fleetsim-");
        try (FleetSimulation sim = new FleetSimulation(new FleetSimulation.Settings(77, 3, 2, 2, 0, 0, 1,
                DatabaseUrl.parse(dir.resolve("mvm.db").toString()), dir), line -> {})) {
            sim.start();
            sim.createTenants();
            // Zero quiet rounds: the fleet cannot have converged, and the failure must say how to replay.
            assertThatThrownBy(sim::converge).isInstanceOf(FleetSimulation.InvariantViolation.class)
                    .hasMessageContaining("seed 77").hasMessageContaining("did not converge");
        } finally {
            delete(dir);
        }
    }

    @Test
    void theSameSeedPicksTheSameFaults() throws Exception {
        Path dir = Files.createTempDirectory("mvm-fleetsim-");
        try {
            assertThat(faults(dir, 9)).isEqualTo(faults(dir, 9)).isNotEqualTo(faults(dir, 10));
        } finally {
            delete(dir);
        }
    }

    private static List<Fault> faults(Path dir, long seed) {
        FleetSimulation sim = new FleetSimulation(new FleetSimulation.Settings(seed, 10, 2, 3, 0, 0, 1,
                DatabaseUrl.parse(dir.resolve("unused.db").toString()), dir), line -> {});
        // Picking needs pools to scale: give it the tenants' targets without starting anything.
        for (int t = 0; t < 3; t++) {
            sim.pools().add(new FleetSimulation.PoolTarget("t" + t, "app", new int[] {2}));
            sim.agents().add(null);
        }
        return Stream.generate(sim::pickFault).limit(50).toList();
    }

    private void run(long seed, DatabaseUrl db, Path dir) {
        StringBuilder log = new StringBuilder();
        try (FleetSimulation sim = new FleetSimulation(new FleetSimulation.Settings(seed, HOSTS, 4, 10, 40, 40, 1, db,
                dir), line -> log.append(line).append('\n'))) {
            sim.start();
            sim.createTenants();
            sim.faultRounds();
            sim.converge();
            sim.checkAckedIntent("at the end");
            sim.checkEventOrder(50);
            System.out.println("seed " + seed + ": " + sim.rounds() + " rounds, " + sim.restarts()
                    + " coordinator restarts\n" + log);
            assertThat(sim.story()).anyMatch(l -> l.contains("AgentCrash") || l.contains("AgentPartition"));
        }
    }

    private void execute(String sql) throws Exception {
        try (Connection c = postgres.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private static void delete(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
