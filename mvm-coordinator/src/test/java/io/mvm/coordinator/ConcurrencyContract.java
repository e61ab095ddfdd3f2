package io.mvm.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.coordinator.testing.ApiClient;
import io.mvm.coordinator.testing.ApiClient.Response;
import io.mvm.coordinator.testing.TestDatabase;
import io.mvm.core.network.Ipv4Cidr;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Races decided by the database, not by JVM locks: duplicate creates, subnet allocation, quota,
 * and two coordinators on one database.
 */
abstract class ConcurrencyContract {
    private TestDatabase db;
    private final List<Coordinator> coordinators = new ArrayList<>();
    private ExecutorService pool;

    abstract TestDatabase.Kind kind();

    @BeforeEach
    void setUp() {
        db = kind().create();
        pool = Executors.newFixedThreadPool(16);
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        pool.shutdownNow();
        pool.awaitTermination(30, TimeUnit.SECONDS);
        coordinators.forEach(Coordinator::stop);
        db.close();
    }

    private ApiClient start() throws Exception {
        Coordinator c = Coordinator.start(CoordinatorConfig.defaults(db.dataDir()).withDatabase(db.url())
                .withListen("127.0.0.1", 0));
        coordinators.add(c);
        return new ApiClient(c.port(), Files.readString(c.adminTokenFile()).strip());
    }

    private <T> List<T> all(List<Callable<T>> tasks) throws Exception {
        List<Future<T>> futures = new ArrayList<>();
        for (Callable<T> t : tasks) {
            futures.add(pool.submit(t));
        }
        List<T> out = new ArrayList<>();
        for (Future<T> f : futures) {
            out.add(f.get(120, TimeUnit.SECONDS));
        }
        return out;
    }

    private static Map<String, Object> pool(String name) {
        return Map.of("name", name, "profile", "minimal", "flake", ".", "vcpus", 1, "memory_mib", 128, "running", 1);
    }

    @Test
    void twoConcurrentCreatesOfTheSamePoolGiveOne201AndOne409() throws Exception {
        ApiClient api = start();
        assertThat(api.post("/v1/tenants", Map.of("id", "acme", "max_instances", 100)).status()).isEqualTo(201);
        for (int round = 0; round < 8; round++) {
            String name = "p" + round;
            CyclicBarrier together = new CyclicBarrier(2);
            List<Callable<Integer>> racers = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                racers.add(() -> {
                    together.await(30, TimeUnit.SECONDS);
                    return api.post("/v1/tenants/acme/pools", pool(name)).status();
                });
            }
            assertThat(all(racers)).as("round " + round).containsExactlyInAnyOrder(201, 409);
        }
        assertThat(api.get("/v1/tenants/acme/instances").json().get("items")).hasSize(8);
    }

    @Test
    void manyConcurrentTenantCreatesGetDistinctSubnets() throws Exception {
        ApiClient api = start();
        List<Callable<Response>> creates = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            String id = "tenant-" + i;
            creates.add(() -> api.post("/v1/tenants", Map.of("id", id)));
        }
        List<Response> responses = all(creates);
        assertThat(responses).allSatisfy(r -> assertThat(r.status()).as(r.toString()).isEqualTo(201));
        assertNoOverlap(responses);
    }

    @Test
    void aSecondCoordinatorOnOneSqliteFileIsRefusedWithAClearMessage() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(kind() == TestDatabase.Kind.SQLITE);
        ApiClient first = start();
        org.assertj.core.api.Assertions.assertThatThrownBy(this::start)
                .isInstanceOf(io.mvm.model.MvmException.class)
                .hasMessageContaining("another coordinator is already running on")
                .hasMessageContaining("PostgreSQL");
        // The first one is unharmed, and once it stops the file is free again.
        assertThat(first.get("/v1/tenants").status()).isEqualTo(200);
        coordinators.remove(0).stop();
        assertThat(start().get("/v1/tenants").status()).isEqualTo(200);
    }

    @Test
    void twoCoordinatorsOnOneDatabaseRefuseAStaleVersionWhicheverServesIt() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(kind() == TestDatabase.Kind.POSTGRESQL);
        ApiClient first = start();
        ApiClient second = start();
        assertThat(first.post("/v1/tenants", Map.of("id", "v", "max_instances", 100, "max_vcpus", 100,
                "max_memory_mib", 100000)).status()).isEqualTo(201);
        assertThat(second.post("/v1/tenants/v/pools", pool("p")).status()).isEqualTo(201);
        // Both read version 1, then both write with If-Match "1" through different coordinators at once.
        for (int round = 1; round <= 6; round++) {
            String version = "\"" + round + "\"";
            // Values no earlier round set: a patch that changes nothing would not move the version.
            int running = 2 * round;
            CyclicBarrier together = new CyclicBarrier(2);
            List<Integer> statuses = all(List.of(
                    () -> { together.await(); return first.patch("/v1/tenants/v/pools/p", Map.of("running", running),
                            Map.of("If-Match", version)).status(); },
                    () -> { together.await(); return second.patch("/v1/tenants/v/pools/p", Map.of("running", running + 1),
                            Map.of("If-Match", version)).status(); }));
            assertThat(statuses).as("round " + round).containsExactlyInAnyOrder(200, 412);
        }
        assertThat(first.get("/v1/tenants/v/pools/p").header("ETag")).isEqualTo("\"7\"");
        // One leader between them, whichever is asked.
        var status = second.get("/v1/coordinators").json();
        assertThat(status.get("items")).hasSize(2);
        assertThat(status.get("items").findValues("leader").stream().filter(l -> l.asBoolean()).count()).isEqualTo(1);
        assertThat(first.get("/v1/coordinators").json().get("lease").get("leader"))
                .isEqualTo(status.get("lease").get("leader"));
        assertThat(coordinators.stream().filter(c -> c.election().isLeader()).count()).isEqualTo(1);
    }

    @Test
    void twoCoordinatorsOnOneDatabaseNeverHandOutTheSameSubnet() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(kind() == TestDatabase.Kind.POSTGRESQL,
                "a SQLite file serves one coordinator");
        ApiClient first = start();
        ApiClient second = start();
        List<Callable<Response>> creates = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            ApiClient via = i % 2 == 0 ? first : second;
            String id = "shared-" + i;
            creates.add(() -> via.post("/v1/tenants", Map.of("id", id)));
        }
        List<Response> responses = all(creates);
        assertThat(responses).allSatisfy(r -> assertThat(r.status()).as(r.toString()).isEqualTo(201));
        assertNoOverlap(responses);
        // Same name through both coordinators at once: exactly one wins.
        CyclicBarrier together = new CyclicBarrier(2);
        List<Integer> statuses = all(List.of(
                () -> { together.await(); return first.post("/v1/tenants", Map.of("id", "dup")).status(); },
                () -> { together.await(); return second.post("/v1/tenants", Map.of("id", "dup")).status(); }));
        assertThat(statuses).containsExactlyInAnyOrder(201, 409);
    }

    @Test
    void concurrentScaleUpsNeverExceedTheQuota() throws Exception {
        ApiClient api = start();
        api.post("/v1/tenants", Map.of("id", "q", "max_instances", 10, "max_vcpus", 100, "max_memory_mib", 100000));
        List<Callable<Integer>> creates = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            String name = "p" + i;
            creates.add(() -> api.post("/v1/tenants/q/pools", pool(name)).status());
        }
        List<Integer> statuses = all(creates);
        assertThat(statuses.stream().filter(s -> s == 201).count()).isEqualTo(10);
        assertThat(statuses.stream().filter(s -> s == 422).count()).isEqualTo(10);
        var instances = api.get("/v1/tenants/q/instances").json().get("items");
        assertThat(instances).hasSize(10);
        Set<String> ips = new HashSet<>();
        instances.forEach(i -> ips.add(i.get("ip").asText()));
        assertThat(ips).hasSize(10);
    }

    private static void assertNoOverlap(List<Response> responses) {
        List<Ipv4Cidr> subnets = new ArrayList<>();
        Set<Integer> netIds = new HashSet<>();
        for (Response r : responses) {
            subnets.add(Ipv4Cidr.parse(r.json().get("subnet").asText()));
            assertThat(netIds.add(r.json().get("net_id").asInt())).isTrue();
        }
        for (int i = 0; i < subnets.size(); i++) {
            for (int j = i + 1; j < subnets.size(); j++) {
                assertThat(subnets.get(i).overlaps(subnets.get(j))).as(subnets.get(i) + " vs " + subnets.get(j)).isFalse();
            }
        }
    }
}
