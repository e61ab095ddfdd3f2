package io.mvm.cli.bench.fleet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.agent.coordinator.HttpCoordinatorClient;
import io.mvm.coordinator.Coordinator;
import io.mvm.coordinator.CoordinatorConfig;
import io.mvm.core.network.Ipv4Cidr;
import io.mvm.core.placement.Capacity;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.NodeId;
import io.mvm.store.db.DatabaseUrl;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * A fleet in one JVM: the real coordinator (HTTP API, scheduler, store; started in-process on a
 * SQLite file or PostgreSQL) and many {@link SimAgent}s speaking the real agent protocol to it.
 *
 * <p>Everything the simulation decides comes from one {@link Random} seeded by
 * {@link Settings#seed()}: which faults, when, to whom, and the order in which agents take their
 * steps each round. Time is a manual clock the simulation advances (two seconds a round), and the
 * coordinator's housekeeping (lost-node detection, scheduling pass) runs when a round ends, so a
 * seed replays the same story; what real threads still decide is the interleaving inside the
 * coordinator (its HTTP threads, its database), which the invariants must hold under anyway.
 *
 * <p>Invariants checked after every round: no node over-allocated (coordinator's view and each
 * agent's), no instance running on two agents that are in contact; at the end, after faults stop:
 * every pool converges to its acknowledged running count, no acknowledged intent was lost
 * (also after every coordinator restart), and every instance's events are stored in the order its
 * agents emitted them.
 */
public final class FleetSimulation implements AutoCloseable {
    /** Two seconds of coordinator time per round; a node is lost after five silent rounds. */
    static final Duration ROUND = Duration.ofSeconds(2);
    static final Duration NODE_TIMEOUT = Duration.ofSeconds(10);

    /**
     * @param tenants     tenants, one pool each; the pools' running counts add up to about
     *                    {@code hosts * vmsPerHost}
     * @param parallelism agents stepping at once (1: strictly in the seed's order)
     */
    public record Settings(long seed, int hosts, int vmsPerHost, int tenants, int faultRounds, int quietRounds,
                           int parallelism, DatabaseUrl db, Path dataDir) {
        public Settings {
            if (hosts < 1 || vmsPerHost < 1 || tenants < 1 || parallelism < 1) {
                throw new IllegalArgumentException("hosts, vms per host, tenants and parallelism must be positive");
            }
        }
    }

    /** An invariant did not hold; the message names the seed that replays it. */
    public static final class InvariantViolation extends RuntimeException {
        InvariantViolation(long seed, String what, List<String> story) {
            super("fleet simulation seed " + seed + ": " + what + "\nreplay with this seed; the story:\n  "
                    + String.join("\n  ", story.subList(Math.max(0, story.size() - 40), story.size())));
        }
    }

    /** A pool and the running count the coordinator acknowledged for it last. */
    record PoolTarget(String tenant, String pool, int[] acked) {
        int running() {
            return acked[0];
        }
    }

    private final Settings settings;
    private final Random random;
    private final SimClock clock = new SimClock(Instant.parse("2026-01-01T00:00:00Z"));
    private final ObjectMapper json = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<SimAgent> agents = new ArrayList<>();
    // Read by the benchmark's load threads while tenants are being created.
    private final List<PoolTarget> pools = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<String> story = new ArrayList<>();
    private final Map<Integer, Integer> healAt = new HashMap<>();
    private final Map<Integer, Integer> crashHealAt = new HashMap<>();
    private final Map<Integer, Integer> slowUntil = new HashMap<>();
    private final Consumer<String> progress;
    private final ExecutorService stepper;
    private Coordinator coordinator;
    private int port;
    private String adminToken;
    private long round;
    private int restarts;

    public FleetSimulation(Settings settings, Consumer<String> progress) {
        this.settings = settings;
        this.random = new Random(settings.seed());
        this.progress = progress;
        this.stepper = settings.parallelism() > 1 ? Executors.newFixedThreadPool(settings.parallelism()) : null;
    }

    // ---- set-up ----

    /** Starts the coordinator and registers the hosts; no tenants yet. */
    public void start() {
        startCoordinator(0);
        for (int h = 0; h < settings.hosts(); h++) {
            NodeId node = NodeId.of("sim-%05d".formatted(h));
            // Room for a quarter more than the fleet's share, so losing a tenth of the hosts can be absorbed.
            int vcpus = settings.vmsPerHost() + Math.max(1, settings.vmsPerHost() / 4);
            Capacity capacity = new Capacity(vcpus, vcpus * 256L, 1_000_000);
            var client = new HttpCoordinatorClient(URI.create("http://127.0.0.1:" + port), coordinator.issueNodeToken(node),
                    Duration.ofSeconds(30), clock);
            agents.add(new SimAgent(node, capacity, client));
        }
        say("started coordinator on port " + port + " with " + agents.size() + " hosts");
    }

    /** Creates the tenants, each with one pool; returns when the API acknowledged them (nothing placed yet). */
    public void createTenants() {
        int total = settings.hosts() * settings.vmsPerHost();
        for (int t = 0; t < settings.tenants(); t++) {
            String tenant = "sim-t%05d".formatted(t);
            int running = total / settings.tenants() + (t < total % settings.tenants() ? 1 : 0);
            expect(send("POST", "/v1/tenants", Map.of("id", tenant, "max_vcpus", 100_000, "max_memory_mib", 100_000_000,
                    "max_instances", 250)), 201, "create tenant " + tenant);
            expect(send("POST", "/v1/tenants/" + tenant + "/pools", Map.of("name", "app", "profile", "minimal",
                    "flake", ".", "vcpus", 1, "memory_mib", 256, "data_disk_mib", 0, "running", running)), 201,
                    "create pool of " + tenant);
            pools.add(new PoolTarget(tenant, "app", new int[] {running}));
        }
        say("created " + pools.size() + " tenants wanting " + total + " instances");
    }

    private void startCoordinator(int fixedPort) {
        CoordinatorConfig config = CoordinatorConfig.defaults(settings.dataDir()).withDatabase(settings.db())
                .withListen("127.0.0.1", fixedPort).withClock(clock)
                .withClusterCidr(Ipv4Cidr.parse("10.0.0.0/8"))
                .withNodeTimeouts(NODE_TIMEOUT, ROUND)
                // The simulation runs housekeeping itself at the end of each round.
                .withHousekeepingInterval(Duration.ofHours(24));
        RuntimeException last = null;
        for (int attempt = 0; attempt < 20; attempt++) {
            try {
                coordinator = Coordinator.start(config);
                port = coordinator.port();
                adminToken = Files.readString(coordinator.adminTokenFile()).strip();
                return;
            } catch (RuntimeException e) {
                // The old listener's port can take a moment to be free again.
                last = e;
                sleep(250);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        throw last;
    }

    // ---- rounds ----

    /** One round: time moves on, every agent steps (in the seed's order), housekeeping runs. */
    public void round() {
        round++;
        clock.advance(ROUND);
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < agents.size(); i++) {
            order.add(i);
        }
        Collections.shuffle(order, random);
        Instant now = clock.instant();
        if (stepper == null) {
            for (int i : order) {
                agents.get(i).step(round, now);
            }
        } else {
            List<Future<?>> steps = new ArrayList<>();
            for (int i : order) {
                SimAgent a = agents.get(i);
                steps.add(stepper.submit(() -> a.step(round, now)));
            }
            for (Future<?> f : steps) {
                try {
                    f.get();
                } catch (Exception e) {
                    throw new IllegalStateException("agent step failed", e);
                }
            }
        }
        try {
            coordinator.runHousekeeping();
        } catch (RuntimeException e) {
            say("housekeeping failed: " + e);
        }
    }

    /** Rounds with seeded faults; invariants checked after each. */
    public void faultRounds() {
        for (int r = 0; r < settings.faultRounds(); r++) {
            healDue();
            if (random.nextInt(100) < 35) {
                inject(pickFault());
            }
            round();
            checkRound();
        }
    }

    /**
     * Heals every fault and runs rounds until the fleet has converged; a fleet that does not
     * within {@code quietRounds} is a violation.
     */
    public int converge() {
        for (int i = 0; i < agents.size(); i++) {
            heal(i);
        }
        healAt.clear();
        crashHealAt.clear();
        slowUntil.clear();
        for (int r = 1; r <= settings.quietRounds(); r++) {
            round();
            checkRound();
            if (converged()) {
                say("converged after " + r + " quiet rounds");
                return r;
            }
        }
        throw violation("did not converge within " + settings.quietRounds() + " rounds after faults stopped: "
                + convergenceGap());
    }

    Fault pickFault() {
        int kind = random.nextInt(100);
        int agent = random.nextInt(agents.size());
        if (kind < 25) {
            return new Fault.AgentCrash(agent, 1 + random.nextInt(8));
        } else if (kind < 50) {
            return new Fault.AgentPartition(agent, 1 + random.nextInt(10));
        } else if (kind < 65) {
            return new Fault.SlowAgent(agent, 2 + random.nextInt(2), 2 + random.nextInt(6));
        } else if (kind < 75) {
            return new Fault.CoordinatorRestart();
        }
        PoolTarget p = pools.get(random.nextInt(pools.size()));
        int delta = random.nextInt(5) - 2;
        return new Fault.Scale(pools.indexOf(p), Math.max(0, Math.min(250, p.running() + delta)));
    }

    void inject(Fault fault) {
        say("round " + (round + 1) + ": " + fault);
        switch (fault) {
            case Fault.AgentCrash c -> {
                agents.get(c.agent()).crash();
                crashHealAt.put(c.agent(), (int) round + c.rounds());
            }
            case Fault.AgentPartition p -> {
                agents.get(p.agent()).partition(true);
                healAt.put(p.agent(), (int) round + p.rounds());
            }
            case Fault.SlowAgent s -> {
                agents.get(s.agent()).slow(s.every());
                slowUntil.put(s.agent(), (int) round + s.rounds());
            }
            case Fault.CoordinatorRestart r -> restartCoordinator();
            case Fault.Scale s -> scale(pools.get(s.pool()), s.running());
        }
    }

    private void healDue() {
        crashHealAt.entrySet().removeIf(e -> {
            if (e.getValue() <= round) {
                agents.get(e.getKey()).restart();
                say("round " + (round + 1) + ": agent " + e.getKey() + " restarts");
                return true;
            }
            return false;
        });
        healAt.entrySet().removeIf(e -> {
            if (e.getValue() <= round) {
                agents.get(e.getKey()).partition(false);
                say("round " + (round + 1) + ": agent " + e.getKey() + " reconnects");
                return true;
            }
            return false;
        });
        slowUntil.entrySet().removeIf(e -> {
            if (e.getValue() <= round) {
                agents.get(e.getKey()).slow(1);
                return true;
            }
            return false;
        });
    }

    private void heal(int i) {
        SimAgent a = agents.get(i);
        if (crashHealAt.containsKey(i)) {
            a.restart();
        }
        a.partition(false);
        a.slow(1);
    }

    /** Stops the coordinator at once and starts it again on the same database and port. */
    public void restartCoordinator() {
        coordinator.stop();
        restarts++;
        startCoordinator(port);
        checkAckedIntent("after coordinator restart " + restarts);
    }

    private void scale(PoolTarget p, int running) {
        Answer a = send("PATCH", "/v1/tenants/" + p.tenant() + "/pools/" + p.pool(), Map.of("running", running));
        if (a.status() == 200) {
            p.acked()[0] = running;
        } else {
            // Not acknowledged: nothing to hold the coordinator to; read back what it has.
            say("scale of " + p.tenant() + " not acknowledged: " + a.status());
            Answer now = send("GET", "/v1/tenants/" + p.tenant() + "/pools/" + p.pool(), null);
            if (now.status() == 200) {
                p.acked()[0] = now.body().get("desired").get("running").asInt();
            }
        }
    }

    // ---- invariants ----

    /** Checks what must hold at every moment. */
    void checkRound() {
        Map<InstanceId, NodeId> runningOn = new HashMap<>();
        for (SimAgent a : agents) {
            int vcpus = 0;
            long memory = 0;
            for (SimAgent.Vm vm : a.vms().values()) {
                if (vm.state() != InstanceState.DESTROYED && vm.state() != InstanceState.STOPPED) {
                    vcpus += vm.vcpus();
                    memory += vm.memoryMib();
                }
                if (a.inContact() && vm.state() == InstanceState.RUNNING) {
                    NodeId other = runningOn.put(vm.id(), a.node());
                    if (other != null) {
                        throw violation("instance " + vm.id() + " runs on " + other + " and " + a.node());
                    }
                }
            }
            if (vcpus > a.capacity().vcpus() || memory > a.capacity().memoryMib()) {
                throw violation("agent " + a.node() + " runs " + vcpus + " vcpus / " + memory + " MiB over its capacity "
                        + a.capacity());
            }
        }
        for (JsonNode n : list("/v1/nodes")) {
            JsonNode cap = n.get("capacity");
            JsonNode used = n.get("allocated");
            if (used.get("vcpus").asLong() > cap.get("vcpus").asLong()
                    || used.get("memory_mib").asLong() > cap.get("memory_mib").asLong()) {
                throw violation("node " + n.get("id").asText() + " allocated " + used + " over its capacity " + cap);
            }
        }
    }

    /** Every pool's acknowledged running count is what the coordinator has. */
    void checkAckedIntent(String when) {
        for (PoolTarget p : pools) {
            Answer a = send("GET", "/v1/tenants/" + p.tenant() + "/pools/" + p.pool(), null);
            expect(a, 200, "read pool " + p.tenant());
            int have = a.body().get("desired").get("running").asInt();
            if (have != p.running()) {
                throw violation(when + ": pool " + p.tenant() + "/" + p.pool() + " wants " + have
                        + " running but the coordinator acknowledged " + p.running());
            }
        }
    }

    /** Every pool has its acknowledged count of instances, each running on an agent in contact. */
    public boolean converged() {
        return convergenceGap().isEmpty();
    }

    private String convergenceGap() {
        Set<InstanceId> runningOnAgents = new HashSet<>();
        for (SimAgent a : agents) {
            if (!a.inContact()) {
                return "agent " + a.node() + " is not in contact";
            }
            a.vms().values().stream().filter(v -> v.state() == InstanceState.RUNNING).forEach(v -> runningOnAgents.add(v.id()));
        }
        for (PoolTarget p : pools) {
            int running = 0;
            int listed = 0;
            for (JsonNode i : list("/v1/tenants/" + p.tenant() + "/instances?pool=" + p.pool())) {
                listed++;
                if (i.get("state").asText().equals("running") && runningOnAgents.contains(InstanceId.of(i.get("id").asText()))) {
                    running++;
                }
            }
            if (running != p.running() || listed != p.running()) {
                return "pool " + p.tenant() + "/" + p.pool() + " has " + running + " running of " + listed
                        + " instances, wants " + p.running();
            }
        }
        return "";
    }

    /** The agents' emitted events, per instance, are stored in emission order (some may be lost with an evicted VM, none reordered). */
    public void checkEventOrder(int sample) {
        Map<InstanceId, List<SimAgent.Emitted>> emitted = new HashMap<>();
        for (SimAgent a : agents) {
            for (SimAgent.Emitted e : a.emitted()) {
                emitted.computeIfAbsent(e.instance(), k -> new ArrayList<>()).add(e);
            }
        }
        List<InstanceId> ids = new ArrayList<>(emitted.keySet());
        ids.sort(null);
        Collections.shuffle(ids, random);
        int checked = 0;
        for (InstanceId id : ids) {
            if (checked >= sample) {
                break;
            }
            List<JsonNode> stored = eventsOf(id);
            if (stored == null) {
                continue; // destroyed since: its history went with it
            }
            checked++;
            List<SimAgent.Emitted> sent = new ArrayList<>(emitted.get(id));
            sent.sort((a, b) -> a.at().compareTo(b.at()));
            int j = 0;
            Instant previous = Instant.MIN;
            for (JsonNode e : stored) {
                Instant at = Instant.parse(e.get("time").asText());
                String type = e.get("type").asText();
                if (at.isBefore(previous)) {
                    throw violation("events of " + id + " out of order: " + stored);
                }
                previous = at;
                while (j < sent.size() && !(sent.get(j).at().equals(at) && sent.get(j).type().equals(type))) {
                    j++;
                }
                if (j == sent.size()) {
                    throw violation("event " + type + " at " + at + " of " + id + " was stored but never emitted in that"
                            + " order; emitted " + sent + ", stored " + stored);
                }
                j++;
            }
        }
        say("event order held for " + checked + " instances");
    }

    private List<JsonNode> eventsOf(InstanceId id) {
        List<JsonNode> newestPageFirst = new ArrayList<>();
        String cursor = null;
        List<List<JsonNode>> pages = new ArrayList<>();
        do {
            Answer a = send("GET", "/v1/instances/" + id + "/events?limit=1000"
                    + (cursor == null ? "" : "&cursor=" + cursor), null);
            if (a.status() == 404) {
                return null;
            }
            expect(a, 200, "events of " + id);
            List<JsonNode> page = new ArrayList<>();
            a.body().get("items").forEach(page::add);
            pages.add(page);
            cursor = a.body().hasNonNull("next") ? a.body().get("next").asText() : null;
        } while (cursor != null);
        for (List<JsonNode> page : pages.reversed()) {
            newestPageFirst.addAll(page);
        }
        return newestPageFirst;
    }

    // ---- API ----

    record Answer(int status, JsonNode body) {}

    /** Every item of a paged list, following its cursors. */
    List<JsonNode> list(String path) {
        List<JsonNode> out = new ArrayList<>();
        String cursor = null;
        do {
            String page = path + (path.contains("?") ? "&" : "?") + "limit=1000"
                    + (cursor == null ? "" : "&cursor=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8));
            Answer a = send("GET", page, null);
            expect(a, 200, "list " + path);
            a.body().get("items").forEach(out::add);
            cursor = a.body().hasNonNull("next") ? a.body().get("next").asText() : null;
        } while (cursor != null);
        return out;
    }

    Answer send(String method, String path, Object body) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + adminToken);
            if (body != null) {
                b.header("Content-Type", "application/json")
                        .method(method, HttpRequest.BodyPublishers.ofByteArray(json.writeValueAsBytes(body)));
            } else {
                b.method(method, HttpRequest.BodyPublishers.noBody());
            }
            HttpResponse<byte[]> r = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
            return new Answer(r.statusCode(), r.body().length == 0 ? null : json.readTree(r.body()));
        } catch (IOException e) {
            return new Answer(-1, null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private void expect(Answer a, int status, String what) {
        if (a.status() != status) {
            throw violation(what + ": HTTP " + a.status() + " " + a.body());
        }
    }

    InvariantViolation violation(String what) {
        return new InvariantViolation(settings.seed(), what, story);
    }

    void say(String line) {
        story.add(line);
        progress.accept(line);
    }

    // ---- accessors for the benchmark ----

    List<SimAgent> agents() {
        return agents;
    }

    List<PoolTarget> pools() {
        return pools;
    }

    int port() {
        return port;
    }

    String adminToken() {
        return adminToken;
    }

    Coordinator coordinator() {
        return coordinator;
    }

    SimClock clock() {
        return clock;
    }

    long rounds() {
        return round;
    }

    public int restarts() {
        return restarts;
    }

    public List<String> story() {
        return List.copyOf(story);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        if (stepper != null) {
            stepper.shutdownNow();
        }
        if (coordinator != null) {
            coordinator.stop();
        }
    }

    /** The coordinator's and the agents' clock: moves only when the simulation says. */
    static final class SimClock implements InstantSource {
        private volatile Instant now;

        SimClock(Instant start) {
            now = start;
        }

        @Override
        public Instant instant() {
            return now;
        }

        synchronized void advance(Duration d) {
            now = now.plus(d);
        }
    }
}
