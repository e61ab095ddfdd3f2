package io.mvm.agent.reconcile;

import io.mvm.agent.events.EventOutbox;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.agent.health.HealthRegistry;
import io.mvm.agent.runtime.InstanceRuntime;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.Step;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import java.time.InstantSource;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Applies one planned step through the runtime and records what happened: an event per step, the
 * restart book for restarts and give-ups, and the transitional state while the step runs (what
 * the node reports meanwhile). Steps are idempotent in the runtime, so applying one again after a
 * crash is safe.
 */
public final class StepExecutor {
    private final InstanceRuntime runtime;
    private final RestartBook restarts;
    private final HealthRegistry health;
    private final EventOutbox outbox;
    private final InstantSource clock;
    private final Map<InstanceId, InstanceState> inFlight = new ConcurrentHashMap<>();

    public StepExecutor(InstanceRuntime runtime, RestartBook restarts, HealthRegistry health, EventOutbox outbox,
                        InstantSource clock) {
        this.runtime = runtime;
        this.restarts = restarts;
        this.health = health;
        this.outbox = outbox;
        this.clock = clock;
    }

    /** The transitional state of an instance whose step is running now, if any. */
    public Optional<InstanceState> inFlight(InstanceId id) {
        return Optional.ofNullable(inFlight.get(id));
    }

    public void apply(Step step, DesiredInstance desired) {
        var id = step.instance();
        inFlight.put(id, transitional(step));
        try {
            switch (step) {
                case Step.CreateInstance s -> {
                    // A step-start event: with "created" (recorded once the guest is up) it shows
                    // whether a boot began only after another instance had finished booting.
                    record(id, "creating", "boot started");
                    runtime.create(s.spec());
                    record(id, "created", "booted " + s.spec().vcpus() + " vCPUs, " + s.spec().memoryMib() + " MiB");
                }
                case Step.StartInstance s -> {
                    record(id, "starting", "boot from kept drives started");
                    runtime.start(s.spec());
                    record(id, "started", "booted from kept drives, secrets refreshed");
                }
                case Step.ResumeInstance s -> {
                    runtime.resume(id);
                    record(id, "resumed", "warm to running");
                }
                case Step.ClaimInstance s -> {
                    var report = runtime.claim(s.spec());
                    if (!report.alreadyClaimed()) {
                        record(id, "claimed", "warm VM handed to tenant " + s.spec().tenant() + " " + report.phaseMillis());
                    }
                }
                case Step.WakeInstance s -> {
                    runtime.wake(s.spec());
                    record(id, "woken", "restored from snapshot, secrets refreshed");
                }
                case Step.RestartInstance s -> {
                    restarts.recordRestart(id, s.attempt(), s.reason(), clock.instant());
                    runtime.restart(s.spec());
                    record(id, "restarted", s.reason() + " (restart " + s.attempt() + ")");
                }
                case Step.PauseInstance s -> {
                    runtime.pause(id);
                    record(id, "paused", "running to warm");
                }
                case Step.SleepInstance s -> {
                    runtime.sleep(id, s.drainDeadline());
                    record(id, "slept", "drained and snapshotted");
                }
                case Step.StopInstance s -> {
                    runtime.stop(id);
                    record(id, "stopped", "VMM ended, drives kept");
                }
                case Step.DestroyInstance s -> {
                    runtime.destroy(id);
                    restarts.forget(id);
                    record(id, "destroyed", s.reason());
                }
                case Step.EvictInstance s -> {
                    var kept = runtime.evict(id, s.reason());
                    restarts.forget(id);
                    record(id, "orphaned", s.reason() + "; VMM ended, data disk and snapshot kept"
                            + kept.map(p -> " in " + p).orElse(""));
                }
                case Step.MarkFailed s -> {
                    restarts.recordGaveUp(id, s.reason(), desired);
                    record(id, "failed", s.reason());
                }
            }
        } finally {
            health.reset(id);
            inFlight.remove(id);
        }
    }

    private void record(InstanceId id, String type, String message) {
        outbox.add(new InstanceEvent(clock.instant(), id, type, message));
    }

    private static InstanceState transitional(Step step) {
        return switch (step) {
            case Step.CreateInstance s -> InstanceState.CREATING;
            case Step.StartInstance s -> InstanceState.CREATING;
            case Step.RestartInstance s -> InstanceState.CREATING;
            case Step.ResumeInstance s -> InstanceState.WAKING;
            case Step.WakeInstance s -> InstanceState.WAKING;
            case Step.ClaimInstance s -> InstanceState.WAKING;
            case Step.PauseInstance s -> InstanceState.PAUSING;
            case Step.SleepInstance s -> InstanceState.SNAPSHOTTING;
            case Step.StopInstance s -> InstanceState.STOPPING;
            case Step.DestroyInstance s -> InstanceState.STOPPING;
            case Step.EvictInstance s -> InstanceState.STOPPING;
            case Step.MarkFailed s -> InstanceState.FAILED;
        };
    }
}
