package io.mvm.cli.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.client.CoordinatorClient;
import io.mvm.model.MvmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * {@code POST /vms} served by a warm VM vs by a cold boot, through the whole API path of a real
 * coordinator and agent, alternating in one run. A warm run ends at the 201 (sent once the claimed
 * VM's workload has started) and, separately, at the workload's first answer (an exec through the
 * coordinator's relay reading the file the workload wrote); a cold run ends at the same first
 * answer after the 202 and {@code wait=running}. The agent reports where a claim's time went.
 */
public final class WarmBenchmark {
    /**
     * @param warmClaimMs     POST → 201
     * @param warmAnswerMs    POST → the workload's first answer through exec
     * @param coldAnswerMs    POST → the workload's first answer through exec, cold-booted
     * @param claimPhasesMs   the agent's side of the claim (network, drives, resume, identity, ...)
     */
    public record Run(int index, double warmClaimMs, double warmAnswerMs, double coldRunningMs, double coldAnswerMs,
                      double coldOverWarmClaim, double coldOverWarmAnswer, Map<String, Long> claimPhasesMs) {}

    public record Result(String accelerator, String network, int hostCpus, double loadAverageBefore,
                         double loadAverageAfter, int memoryMib, int warmupRuns, int runs, List<Run> perRun,
                         double warmClaimMedianMs, double warmClaimP99Ms, BenchStatistics.Interval warmClaimMedianCi95,
                         double warmAnswerMedianMs, double warmAnswerP99Ms, double coldAnswerMedianMs,
                         double coldAnswerP99Ms, double coldOverWarmClaimMedianOfRuns,
                         BenchStatistics.Interval coldOverWarmClaimCi95, double coldOverWarmAnswerMedianOfRuns,
                         Map<String, Double> claimPhaseMediansMs, double claimOutsideAgentMedianMs) {}

    private static final Duration WARM_WAIT = Duration.ofMinutes(5);
    private final CoordinatorClient api;
    private final String accelerator;
    private final String network;
    private final int memoryMib;
    private final Consumer<String> progress;

    public WarmBenchmark(CoordinatorClient api, String accelerator, String network, int memoryMib,
                         Consumer<String> progress) {
        this.api = api;
        this.accelerator = accelerator;
        this.network = network;
        this.memoryMib = memoryMib;
        this.progress = progress;
    }

    private Map<String, Object> spec(boolean warm, String coldMarker) {
        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put("cmd", List.of("/bin/sh", "-c", "echo ready > /tmp/ready; sleep 1000000"));
        // A cold run's spec differs (its env) so that no warm VM can serve it.
        spec.put("env", warm ? Map.of() : Map.of("BENCH_COLD", coldMarker));
        spec.put("resources", Map.of("vcpu", 1, "mem_mb", memoryMib));
        spec.put("lifecycle", "service");
        if (warm) {
            spec.put("warm_pool", Map.of("min", 1, "max", 1));
        }
        return spec;
    }

    public Result run(int warmups, int runs) {
        double loadBefore = BootBenchmark.loadAverage();
        // The first job of the spec creates its warm pool (and is itself cold-booted).
        api.post("vms", Map.of("job_id", "bench-seed", "spec", spec(true, "")));
        List<Run> results = new ArrayList<>();
        for (int i = 1; i <= warmups + runs; i++) {
            Run run = measure(i);
            boolean counted = i > warmups;
            progress.accept(String.format("%s %d: warm claim %.0f ms (answer %.0f ms) %s, cold answer %.0f ms (%.0fx)",
                    counted ? "run" : "warm-up", counted ? i - warmups : i, run.warmClaimMs(), run.warmAnswerMs(),
                    run.claimPhasesMs(), run.coldAnswerMs(), run.coldOverWarmClaim()));
            if (counted) {
                results.add(run);
            }
        }
        List<Double> claim = results.stream().map(Run::warmClaimMs).toList();
        List<Double> warmAnswer = results.stream().map(Run::warmAnswerMs).toList();
        List<Double> cold = results.stream().map(Run::coldAnswerMs).toList();
        List<Double> ratios = results.stream().map(Run::coldOverWarmClaim).toList();
        List<Double> answerRatios = results.stream().map(Run::coldOverWarmAnswer).toList();
        Map<String, Double> phaseMedians = new LinkedHashMap<>();
        results.getFirst().claimPhasesMs().keySet().forEach(phase -> phaseMedians.put(phase, BenchStatistics.round(
                BenchStatistics.median(results.stream()
                        .map(r -> (double) r.claimPhasesMs().getOrDefault(phase, 0L)).toList()))));
        double outside = BenchStatistics.median(results.stream()
                .map(r -> r.warmClaimMs() - r.claimPhasesMs().getOrDefault("total", 0L)).toList());
        return new Result(accelerator, network, Runtime.getRuntime().availableProcessors(), loadBefore,
                BootBenchmark.loadAverage(), memoryMib, warmups, runs, results,
                BenchStatistics.round(BenchStatistics.median(claim)), BenchStatistics.round(BenchStatistics.p99(claim)),
                BenchStatistics.rounded(BenchStatistics.bootstrapMedian95(claim, 10_000, 20261203L)),
                BenchStatistics.round(BenchStatistics.median(warmAnswer)),
                BenchStatistics.round(BenchStatistics.p99(warmAnswer)),
                BenchStatistics.round(BenchStatistics.median(cold)), BenchStatistics.round(BenchStatistics.p99(cold)),
                BenchStatistics.round(BenchStatistics.median(ratios)),
                BenchStatistics.rounded(BenchStatistics.bootstrapMedian95(ratios, 10_000, 20261203L)),
                BenchStatistics.round(BenchStatistics.median(answerRatios)), phaseMedians,
                BenchStatistics.round(outside));
    }

    private Run measure(int index) {
        awaitStandingBy();
        String warmJob = "bench-w-" + index;
        long t0 = System.nanoTime();
        JsonNode claimed = api.post("vms", Map.of("job_id", warmJob, "spec", spec(true, "")));
        double claimMs = millisSince(t0);
        if (!claimed.path("outcome").asText().equals("claimed")) {
            throw MvmException.precondition("run " + index + ": no warm VM served the submission ("
                    + claimed.path("outcome").asText() + ", " + claimed.path("claim_miss").asText("no miss") + ")");
        }
        String warmVm = claimed.path("vm_id").asText();
        awaitAnswer(warmVm);
        double warmAnswerMs = millisSince(t0);
        Map<String, Long> phases = new LinkedHashMap<>();
        claimed.path("claim_phases_ms").properties().forEach(e -> phases.put(e.getKey(), e.getValue().asLong()));

        String coldJob = "bench-c-" + index;
        long c0 = System.nanoTime();
        api.post("vms", Map.of("job_id", coldJob, "spec", spec(false, Integer.toString(index))));
        JsonNode running = api.get("vms/" + coldJob + "?wait=running&timeout=300s");
        double coldRunningMs = millisSince(c0);
        awaitAnswer(running.path("vm_id").asText());
        double coldAnswerMs = millisSince(c0);
        api.delete("vms/" + warmJob);
        api.delete("vms/" + coldJob);
        return new Run(index, BenchStatistics.round(claimMs), BenchStatistics.round(warmAnswerMs),
                BenchStatistics.round(coldRunningMs), BenchStatistics.round(coldAnswerMs),
                BenchStatistics.round(coldAnswerMs / claimMs), BenchStatistics.round(coldAnswerMs / warmAnswerMs),
                phases);
    }

    /** Until the spec's warm pool has a VM booted and paused. */
    private void awaitStandingBy() {
        long deadline = System.nanoTime() + WARM_WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            for (JsonNode w : api.get("stats").path("warm_pool")) {
                if (w.path("status").asText().equals("warm")) {
                    return;
                }
            }
            io.mvm.runtime.backend.Polling.pause(Duration.ofMillis(200));
        }
        throw MvmException.unavailable("no warm VM stood by within " + WARM_WAIT.toMinutes() + " min", null);
    }

    /** Until the workload's file can be read through exec (the workload has answered). */
    private void awaitAnswer(String instance) {
        long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                JsonNode r = api.post("v1/instances/" + instance + "/exec",
                        Map.of("argv", List.of("cat", "/tmp/ready"), "timeout_secs", 10));
                if (r.path("exit_code").asInt(-1) == 0) {
                    return;
                }
            } catch (MvmException e) {
                // not running yet, or the guest agent is busy: try again
            }
            io.mvm.runtime.backend.Polling.pause(Duration.ofMillis(20));
        }
        throw MvmException.unavailable("instance " + instance + " never answered", null);
    }

    private static double millisSince(long t0) {
        return (System.nanoTime() - t0) / 1e6;
    }
}
