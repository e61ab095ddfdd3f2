package io.mvm.cli.bench.fleet;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.bench.BenchStatistics;
import io.mvm.model.InstanceState;
import io.mvm.store.db.DatabaseUrl;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * {@code mvm bench fleet}: the fleet simulation used as a load generator. One size is: start the
 * real coordinator with {@code hosts} simulated agents, create the tenants (one pool each) that
 * want {@code hosts * vmsPerHost} instances, and measure how long until every instance runs;
 * meanwhile a reader and a writer call the API and their latencies are kept; then 10% of the hosts
 * die at once and the time until everything runs again is measured. Heap and CPU are the JVM's
 * (coordinator and simulated agents share it: an upper bound for the coordinator alone).
 */
public final class FleetBenchmark {
    /** One size's figures; times in milliseconds. */
    public record SizeResult(int hosts, int vmsPerHost, int instances, int tenants, String database,
                             double placeAllMs, long placeRounds, Latency reads, Latency listPages, Latency writes,
                             double rescheduleMs, long rescheduleRounds, double rescheduleCoordinatorSeconds,
                             int hostsLost, long heapUsedAfterPlacementMiB, long heapPeakMiB, double cpuSeconds,
                             int parallelAgents) {}

    /** Latency percentiles of one kind of API call, in milliseconds. */
    public record Latency(int calls, double p50, double p99, double max) {
        static Latency of(List<Double> ms) {
            if (ms.isEmpty()) {
                return new Latency(0, 0, 0, 0);
            }
            double[] sorted = ms.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            return new Latency(sorted.length, round(BenchStatistics.quantile(sorted, 0.5)),
                    round(BenchStatistics.quantile(sorted, 0.99)),
                    round(sorted[sorted.length - 1]));
        }
    }

    /** The whole run: one result per size, and how each figure grows from the smallest size to the largest. */
    public record Result(String note, List<SizeResult> sizes, Map<String, Double> growthPerHostFactor) {}

    private final Consumer<String> progress;

    public FleetBenchmark(Consumer<String> progress) {
        this.progress = progress;
    }

    public SizeResult runSize(int hosts, int vmsPerHost, int tenants, int parallelism, long seed, DatabaseUrl db,
                              Path dataDir) {
        var settings = new FleetSimulation.Settings(seed, hosts, vmsPerHost, tenants, 0, 0, parallelism, db, dataDir);
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            pool.resetPeakUsage();
        }
        long cpuStart = os.getProcessCpuTime();
        try (FleetSimulation sim = new FleetSimulation(settings, line -> progress.accept("[" + hosts + " hosts] " + line))) {
            sim.start();
            sim.round(); // every host registers
            List<Double> reads = Collections.synchronizedList(new ArrayList<>());
            List<Double> pages = Collections.synchronizedList(new ArrayList<>());
            List<Double> writes = Collections.synchronizedList(new ArrayList<>());
            AtomicBoolean load = new AtomicBoolean(true);
            Thread reader = Thread.ofPlatform().name("bench-reader").start(() -> readLoad(sim, load, reads, pages, seed));
            Thread writer = Thread.ofPlatform().name("bench-writer").start(() -> writeLoad(sim, load, writes));
            int wanted = hosts * vmsPerHost;
            long start = System.nanoTime();
            sim.createTenants();
            long rounds = 0;
            while (running(sim) < wanted) {
                sim.round();
                rounds++;
                if (rounds % 5 == 0) {
                    progress.accept("[" + hosts + " hosts] round " + rounds + ": " + running(sim) + "/" + wanted
                            + " running");
                }
                if (rounds > 500) {
                    throw sim.violation("placement did not finish in 500 rounds: " + running(sim) + "/" + wanted);
                }
            }
            double placeMs = (System.nanoTime() - start) / 1e6;
            load.set(false);
            join(reader);
            join(writer);
            System.gc();
            long heapAfter = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() >> 20;
            progress.accept("[" + hosts + " hosts] all " + wanted + " placed and running in " + Math.round(placeMs) + " ms");

            // Lose a tenth of the hosts at once.
            Random random = new Random(seed);
            List<SimAgent> agents = new ArrayList<>(sim.agents());
            Collections.shuffle(agents, random);
            int lost = Math.max(1, hosts / 10);
            for (SimAgent a : agents.subList(0, lost)) {
                a.crash();
            }
            long reStart = System.nanoTime();
            long reRounds = 0;
            while (running(sim) < wanted) {
                sim.round();
                reRounds++;
                if (reRounds > 500) {
                    throw sim.violation("rescheduling did not finish in 500 rounds: " + running(sim) + "/" + wanted);
                }
            }
            double rescheduleMs = (System.nanoTime() - reStart) / 1e6;
            long heapPeak = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                    heapPeak += pool.getPeakUsage().getUsed();
                }
            }
            double cpu = (os.getProcessCpuTime() - cpuStart) / 1e9;
            progress.accept("[" + hosts + " hosts] rescheduled after losing " + lost + " hosts in "
                    + Math.round(rescheduleMs) + " ms (" + reRounds + " rounds)");
            return new SizeResult(hosts, vmsPerHost, wanted, tenants, db.toString().replaceAll("//[^@/]*@", "//"),
                    round(placeMs), rounds, Latency.of(reads), Latency.of(pages), Latency.of(writes),
                    round(rescheduleMs), reRounds, reRounds * FleetSimulation.ROUND.toSeconds(), lost, heapAfter,
                    heapPeak >> 20, round(cpu), parallelism);
        }
    }

    /** Instances running on live agents (the agents' own view: no API call, so it does not load what it measures). */
    private static int running(FleetSimulation sim) {
        int n = 0;
        for (SimAgent a : sim.agents()) {
            if (a.down()) {
                continue;
            }
            for (SimAgent.Vm vm : a.vms().values()) {
                if (vm.state() == InstanceState.RUNNING) {
                    n++;
                }
            }
        }
        return n;
    }

    /** A user reading: a tenant, a page of tenants, a page of a tenant's instances, a page of nodes. */
    private static void readLoad(FleetSimulation sim, AtomicBoolean load, List<Double> reads, List<Double> pages,
                                 long seed) {
        Random random = new Random(seed + 1);
        String cursor = null;
        while (load.get()) {
            List<FleetSimulation.PoolTarget> pools = sim.pools();
            int n = pools.size();
            if (n == 0) {
                pause(5);
                continue;
            }
            String tenant = pools.get(random.nextInt(n)).tenant();
            reads.add(timed(sim, "GET", "/v1/tenants/" + tenant, null));
            long t0 = System.nanoTime();
            FleetSimulation.Answer a = sim.send("GET", "/v1/tenants?limit=100" + (cursor == null ? "" : "&cursor=" + cursor),
                    null);
            pages.add((System.nanoTime() - t0) / 1e6);
            JsonNode next = a.body() == null ? null : a.body().get("next");
            cursor = next == null || next.isNull() ? null : next.asText();
            pages.add(timed(sim, "GET", "/v1/tenants/" + tenant + "/instances?limit=100", null));
            pages.add(timed(sim, "GET", "/v1/nodes?limit=100", null));
            pause(10);
        }
    }

    /** A user writing: new tenants (each an allocation of a subnet, audited), while placement runs. */
    private static void writeLoad(FleetSimulation sim, AtomicBoolean load, List<Double> writes) {
        int i = 0;
        while (load.get()) {
            writes.add(timed(sim, "POST", "/v1/tenants", Map.of("id", "bench-w%06d".formatted(i++))));
            pause(20);
        }
    }

    private static double timed(FleetSimulation sim, String method, String path, Object body) {
        long t0 = System.nanoTime();
        sim.send(method, path, body);
        return (System.nanoTime() - t0) / 1e6;
    }

    /** How a figure grows from the smallest to the largest size, per factor of hosts (1.0: linear, 2.0 at 10x: quadratic-ish). */
    public static Map<String, Double> growth(List<SizeResult> sizes) {
        if (sizes.size() < 2) {
            return Map.of();
        }
        SizeResult a = sizes.getFirst();
        SizeResult b = sizes.getLast();
        double hostFactor = (double) b.hosts() / a.hosts();
        java.util.LinkedHashMap<String, Double> out = new java.util.LinkedHashMap<>();
        out.put("hosts_factor", round(hostFactor));
        out.put("place_all_ms_factor", round(b.placeAllMs() / a.placeAllMs()));
        out.put("reschedule_ms_factor", round(b.rescheduleMs() / a.rescheduleMs()));
        out.put("read_p99_factor", round(b.reads().p99() / Math.max(0.001, a.reads().p99())));
        out.put("list_page_p99_factor", round(b.listPages().p99() / Math.max(0.001, a.listPages().p99())));
        out.put("write_p99_factor", round(b.writes().p99() / Math.max(0.001, a.writes().p99())));
        out.put("heap_after_placement_factor", round((double) b.heapUsedAfterPlacementMiB()
                / Math.max(1, a.heapUsedAfterPlacementMiB())));
        out.put("cpu_seconds_factor", round(b.cpuSeconds() / Math.max(0.001, a.cpuSeconds())));
        // The exponent k in figure ~ hosts^k: 1 is linear, 2 quadratic.
        out.put("place_all_exponent", round(Math.log(b.placeAllMs() / a.placeAllMs()) / Math.log(hostFactor)));
        out.put("cpu_exponent", round(Math.log(b.cpuSeconds() / a.cpuSeconds()) / Math.log(hostFactor)));
        return out;
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }

    private static void pause(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void join(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
