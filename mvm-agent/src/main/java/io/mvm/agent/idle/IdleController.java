package io.mvm.agent.idle;

import io.mvm.agent.events.EventOutbox;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.agent.proxy.TrafficMeter;
import io.mvm.agent.proxy.Waker;
import io.mvm.agent.queue.PassResult;
import io.mvm.agent.reconcile.DesiredStateHolder;
import io.mvm.agent.runtime.InstanceRuntime;
import io.mvm.agent.runtime.LocalVm;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.Target;
import io.mvm.core.reconcile.VmState;
import io.mvm.core.scale.IdleDecision;
import io.mvm.core.scale.IdleInputs;
import io.mvm.core.scale.IdleState;
import io.mvm.model.InstanceId;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's side of scale to zero. The coordinator wants an instance with an idle policy
 * <em>running</em>, which for such an instance means <em>available</em>: running, or idled to warm
 * or sleeping by the policy and woken on demand. Within that intent the agent decides, locally and
 * at once: {@link #tick()} runs the pure {@link IdleDecision} over proxy traffic, the VMM's CPU and
 * guest background work and idles an instance by overlaying its target (warm, then sleeping) on
 * the coordinator's; {@link #wake} lifts the overlay when a connection arrives, so the reconciler
 * wakes it through its normal keyed queue (one pass per instance at a time: concurrent connections
 * share one wake). The coordinator stays the owner of intent: any other desired state it sends
 * (warm, stopped, destroyed, no idle policy) drops the overlay. Idled instances are kept in
 * {@code idled.txt} (atomic writes), so an agent restart does not wake them.
 */
public final class IdleController implements Waker {
    private static final Logger log = LoggerFactory.getLogger(IdleController.class);
    public static final String FILE = "idled.txt";
    /** Linux's USER_HZ: the unit of utime/stime in /proc/PID/stat on every architecture we run on. */
    private static final double TICKS_PER_SECOND = 100.0;

    private record Idled(Target target, Instant since) {}

    private record Active(Instant since, long bytesAtStart) {}

    private record CpuSample(long pid, long ticks, Instant at) {}

    private final DesiredStateHolder desired;
    private final InstanceRuntime runtime;
    private final TrafficMeter meter;
    private final EventOutbox outbox;
    private final InstantSource clock;
    private final Consumer<InstanceId> enqueue;
    private final Optional<Path> file;
    private final Map<InstanceId, Idled> idled = new ConcurrentHashMap<>();
    private final Map<InstanceId, Active> active = new ConcurrentHashMap<>();
    private final Map<InstanceId, CpuSample> cpu = new ConcurrentHashMap<>();
    private final Map<InstanceId, CompletableFuture<Void>> wakes = new HashMap<>();
    private final Map<InstanceId, Integer> wakeCount = new ConcurrentHashMap<>();
    private volatile java.util.function.ToIntFunction<InstanceId> background = id -> 0;
    private volatile LinkCounters links = LinkCounters.NONE;
    /** The last reading of each instance's tap, and when it last carried more than noise. */
    private final Map<InstanceId, LinkSample> linkSamples = new ConcurrentHashMap<>();

    private record LinkSample(long bytes, Optional<Instant> busyAt) {}

    /**
     * Bytes per idle tick a tap may carry without counting as activity: ARP and neighbour
     * refreshes of an idle guest stay well under it, any real exchange goes over.
     */
    static final long LINK_NOISE_BYTES = 1024;

    public IdleController(DesiredStateHolder desired, InstanceRuntime runtime, TrafficMeter meter, EventOutbox outbox,
                          InstantSource clock, Consumer<InstanceId> enqueue, Optional<Path> stateDir) {
        this.desired = desired;
        this.runtime = runtime;
        this.meter = meter;
        this.outbox = outbox;
        this.clock = clock;
        this.enqueue = enqueue;
        this.file = stateDir.map(d -> d.resolve(FILE));
        load();
        desired.overlay(this::overlay);
    }

    /** The coordinator's entry with the idle policy's target, for an instance it wants running. */
    DesiredInstance overlay(DesiredInstance d) {
        var i = idled.get(d.id());
        return i != null && d.target() == Target.RUNNING && d.exposure().idle().isPresent() ? d.withTarget(i.target()) : d;
    }

    /** Where the bytes of guests' taps come from (e.g. {@link LinkCounters#procNetDev()}); none by default. */
    public void linkCounters(LinkCounters source) {
        this.links = java.util.Objects.requireNonNull(source, "source");
    }

    /** Where the count of background work in a guest comes from (e.g. {@link BackgroundWork#running}). */
    public void backgroundWork(java.util.function.ToIntFunction<InstanceId> source) {
        this.background = java.util.Objects.requireNonNull(source, "source");
    }

    @Override
    public boolean idled(InstanceId id) {
        return idled.containsKey(id);
    }

    /** How the idle policy holds an instance now: warm or sleeping, empty when it does not. */
    public Optional<Target> idledAs(InstanceId id) {
        return Optional.ofNullable(idled.get(id)).map(Idled::target);
    }

    /** Wakes started by traffic since this agent started (what tests and the bench count). */
    public int wakes(InstanceId id) {
        return wakeCount.getOrDefault(id, 0);
    }

    @Override
    public synchronized CompletableFuture<Void> wake(InstanceId id, String why) {
        var pending = wakes.get(id);
        if (pending != null) {
            return pending;
        }
        var was = idled.remove(id);
        if (was == null) {
            return CompletableFuture.completedFuture(null);
        }
        persist();
        var now = clock.instant();
        active.put(id, new Active(now, meter.snapshot(id).bytes()));
        cpu.remove(id);
        wakeCount.merge(id, 1, Integer::sum);
        var f = new CompletableFuture<Void>();
        wakes.put(id, f);
        var message = "woken by traffic: " + why + " (" + was.target() + " for "
                + Duration.between(was.since(), now).toSeconds() + " s)";
        log.info("{}: {}", id, message);
        outbox.add(new InstanceEvent(now, id, "wake-requested", message));
        enqueue.accept(id);
        return f;
    }

    @Override
    public void heldConnectionClosed(InstanceId id, String why) {
        outbox.add(new InstanceEvent(clock.instant(), id, "connection-dropped", why));
    }

    /**
     * Told after every reconcile pass: completes a pending wake once the VM runs, fails it when
     * the pass failed (the held connections are then closed by the proxy).
     */
    public void passFinished(InstanceId id, PassResult result) {
        CompletableFuture<Void> f;
        synchronized (this) {
            f = wakes.get(id);
        }
        if (f == null) {
            return;
        }
        if (result instanceof PassResult.Failed failed) {
            synchronized (this) {
                wakes.remove(id);
            }
            var message = "wake failed: " + failed.cause().getMessage();
            log.warn("{}: {}; closing the connections held for it", id, message);
            outbox.add(new InstanceEvent(clock.instant(), id, "wake-failed", message));
            f.completeExceptionally(failed.cause());
            return;
        }
        var running = runtime.observe(id).stream().anyMatch(vm -> vm.id().equals(id) && vm.state() == VmState.RUNNING);
        if (running) {
            synchronized (this) {
                wakes.remove(id);
            }
            f.complete(null);
        }
    }

    /** One round of the idle policy over every instance the coordinator wants running with a policy. */
    public void tick() {
        var snapshot = desired.coordinator();
        if (!snapshot.authoritative()) {
            return;
        }
        var now = clock.instant();
        var policed = new TreeMap<InstanceId, DesiredInstance>();
        for (var d : snapshot.instances()) {
            if (d.target() == Target.RUNNING && d.exposure().idle().isPresent()) {
                policed.put(d.id(), d);
            }
        }
        // Intent moved on (another desired state, the policy removed, the instance gone): the overlay goes.
        boolean dropped = idled.keySet().removeIf(id -> !policed.containsKey(id));
        active.keySet().removeIf(id -> !policed.containsKey(id));
        if (dropped) {
            persist();
        }
        if (policed.isEmpty()) {
            return;
        }
        linkSamples.keySet().removeIf(id -> !policed.containsKey(id));
        var vms = new HashMap<InstanceId, LocalVm>();
        for (var vm : runtime.observe()) {
            vms.put(vm.id(), vm);
        }
        Map<String, Long> linkBytes = links.bytesByDevice();
        for (var d : policed.values()) {
            try {
                noteLinkTraffic(d.id(), linkBytes, now);
                decide(d, vms.get(d.id()), now);
            } catch (RuntimeException e) {
                log.warn("{}: idle decision failed: {}", d.id(), e.toString());
            }
        }
    }

    /**
     * Compares the instance's tap counters with the last tick: more than {@link #LINK_NOISE_BYTES}
     * since then is activity now. The first reading, and one after the tap was made anew (counters
     * back at zero), only set the baseline.
     */
    private void noteLinkTraffic(InstanceId id, Map<String, Long> linkBytes, Instant now) {
        Long bytes = linkBytes.get(io.mvm.core.netpolicy.DeviceNames.tap(id));
        if (bytes == null) {
            linkSamples.remove(id);
            return;
        }
        LinkSample previous = linkSamples.get(id);
        Optional<Instant> busyAt = previous == null ? Optional.empty() : previous.busyAt();
        if (previous != null && bytes - previous.bytes() > LINK_NOISE_BYTES) {
            busyAt = Optional.of(now);
        }
        linkSamples.put(id, new LinkSample(bytes, busyAt));
    }

    private void decide(DesiredInstance d, LocalVm vm, Instant now) {
        var id = d.id();
        var policy = d.exposure().idle().orElseThrow();
        IdleState state;
        synchronized (this) {
            if (wakes.containsKey(id)) {
                return;
            }
            var i = idled.get(id);
            if (i == null) {
                if (vm == null || vm.state() != VmState.RUNNING) {
                    active.remove(id);
                    cpu.remove(id);
                    return;
                }
                state = IdleState.RUNNING;
            } else if (i.target() == Target.WARM && vm != null && vm.state() == VmState.WARM) {
                state = IdleState.WARM;
            } else {
                return; // on its way, or sleeping already
            }
        }
        var traffic = meter.snapshot(id);
        var act = active.computeIfAbsent(id, k -> new Active(now, traffic.bytes()));
        double load = 0;
        if (state == IdleState.RUNNING) {
            var sample = cpuShare(id, vm.pid(), d.spec().vcpus(), now);
            if (sample.isEmpty()) {
                return; // the first sample: no rate yet
            }
            load = sample.getAsDouble();
        }
        Instant lastActivity = traffic.lastActivity();
        var linkBusy = Optional.ofNullable(linkSamples.get(id)).flatMap(LinkSample::busyAt);
        if (linkBusy.isPresent() && linkBusy.get().isAfter(lastActivity)) {
            lastActivity = linkBusy.get();
        }
        var inputs = new IdleInputs(state, act.since(), lastActivity, traffic.open(),
                traffic.bytes() - act.bytesAtStart(), load, background.applyAsInt(id));
        var verdict = IdleDecision.decide(policy, inputs, now);
        Target target = switch (verdict) {
            case IdleDecision.Stay s -> null;
            case IdleDecision.Warm w -> Target.WARM;
            case IdleDecision.Sleep s -> Target.SLEEPING;
        };
        if (target == null) {
            return;
        }
        synchronized (this) {
            // A connection may have arrived since the inputs were read: it wins.
            if (wakes.containsKey(id) || meter.snapshot(id).lastActivityMillis() != traffic.lastActivityMillis()) {
                return;
            }
            idled.put(id, new Idled(target, idled.containsKey(id) ? idled.get(id).since() : now));
            persist();
        }
        log.info("{}: {}", id, verdict.reason());
        outbox.add(new InstanceEvent(now, id, "idled", verdict.reason()));
        enqueue.accept(id);
    }

    /** The VMM's CPU since the last sample as a share of the instance's vCPUs; empty on the first sample. */
    private OptionalDouble cpuShare(InstanceId id, OptionalLong pid, int vcpus, Instant now) {
        if (pid.isEmpty()) {
            return OptionalDouble.empty();
        }
        long ticks;
        try {
            var stat = Files.readString(Path.of("/proc", Long.toString(pid.getAsLong()), "stat"));
            var fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // After the command: state(0) ... utime(11) stime(12).
            ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
        } catch (IOException | RuntimeException e) {
            return OptionalDouble.empty();
        }
        var previous = cpu.put(id, new CpuSample(pid.getAsLong(), ticks, now));
        if (previous == null || previous.pid() != pid.getAsLong()) {
            return OptionalDouble.empty();
        }
        double seconds = Duration.between(previous.at(), now).toMillis() / 1000.0;
        if (seconds <= 0) {
            return OptionalDouble.empty();
        }
        return OptionalDouble.of((ticks - previous.ticks()) / TICKS_PER_SECOND / seconds / Math.max(1, vcpus));
    }

    private synchronized void persist() {
        if (file.isEmpty()) {
            return;
        }
        var sb = new StringBuilder();
        new TreeMap<>(idled).forEach((id, i) -> sb.append(id.value()).append(' ').append(i.target().wireName())
                .append(' ').append(i.since().toEpochMilli()).append('\n'));
        try {
            var f = file.get();
            Files.createDirectories(f.getParent());
            io.mvm.files.AtomicFile.write(f, sb.toString().getBytes(StandardCharsets.UTF_8));
        } catch (IOException | io.mvm.model.MvmException e) {
            log.warn("cannot keep the idled instances in {}: {}", file.get(), e.toString());
        }
    }

    private void load() {
        if (file.isEmpty() || !Files.isRegularFile(file.get())) {
            return;
        }
        try {
            for (var line : Files.readAllLines(file.get(), StandardCharsets.UTF_8)) {
                var parts = line.strip().split(" ");
                if (parts.length == 3) {
                    idled.put(InstanceId.of(parts[0]),
                            new Idled(Target.parse(parts[1]), Instant.ofEpochMilli(Long.parseLong(parts[2]))));
                }
            }
        } catch (IOException | RuntimeException e) {
            // Losing the overlay wakes idled instances once; it never loses data.
            log.warn("cannot read the idled instances from {}: {}", file.get(), e.toString());
        }
    }

}
