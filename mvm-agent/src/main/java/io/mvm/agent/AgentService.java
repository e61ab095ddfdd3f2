package io.mvm.agent;

import io.mvm.agent.coordinator.CoordinatorClient;
import io.mvm.agent.coordinator.InstanceReport;
import io.mvm.agent.coordinator.NodeRegistration;
import io.mvm.agent.coordinator.ObservedReport;
import io.mvm.agent.coordinator.RelayEndpoint;
import io.mvm.agent.events.EventOutbox;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.agent.health.HealthMonitor;
import io.mvm.agent.health.HealthRegistry;
import io.mvm.agent.idle.IdleController;
import io.mvm.agent.proxy.ProxySettings;
import io.mvm.agent.proxy.Route;
import io.mvm.agent.proxy.RouteProxy;
import io.mvm.agent.proxy.TrafficMeter;
import io.mvm.agent.queue.KeyedWorkQueue;
import io.mvm.agent.reconcile.DesiredStateHolder;
import io.mvm.agent.reconcile.InstanceReconciler;
import io.mvm.agent.reconcile.RestartBook;
import io.mvm.agent.reconcile.StepExecutor;
import io.mvm.agent.runtime.InstanceRuntime;
import io.mvm.core.reconcile.ReconcilePlanner;
import io.mvm.core.reconcile.VmState;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.TenantId;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeSet;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host agent: registers the node, follows the coordinator's desired state, reconciles every
 * instance through a keyed work queue, watches health, and reports what it observes.
 *
 * <p>It keeps no intent of its own: what to run comes only from the coordinator, what exists only
 * from the runtime's on-disk handles. So the agent may be killed at any moment; a new one re-adopts
 * the VMs through {@link InstanceRuntime#observe()} and acts on none of them until the coordinator
 * has answered once. Closing the agent never stops VMs.
 */
public final class AgentService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AgentService.class);
    private static final int EVENTS_PER_REPORT = 500;
    private static final Duration IDLE_TICK = Duration.ofSeconds(1);
    public static final String RESTARTS_FILE = "restarts.json";
    public static final String OUTBOX_FILE = "outbox.json";

    private final AgentSettings settings;
    private final Optional<RelayEndpoint> relay;
    private final InstanceRuntime runtime;
    private final CoordinatorClient coordinator;
    private final InstantSource clock;

    private final DesiredStateHolder desired = new DesiredStateHolder();
    private final EventOutbox outbox;
    private final HealthRegistry health;
    private final RestartBook restarts;
    private final StepExecutor executor;
    private final InstanceReconciler reconciler;
    private final KeyedWorkQueue<InstanceId> queue;
    private final HealthMonitor monitor;
    private final ReportDelivery delivery;
    private final BlockingQueue<Boolean> reportNudges = new ArrayBlockingQueue<>(1);
    private final AtomicReference<NodeId> registeredAs = new AtomicReference<>();
    private final AtomicInteger desiredResponses = new AtomicInteger();
    /** VM count of the last observe(); heartbeats send it so a stuck VMM monitor cannot silence them. */
    private final AtomicInteger lastObservedCount = new AtomicInteger();
    /** How often the coordinator asked for heartbeats at the last registration (empty before). */
    private final AtomicReference<Duration> coordinatorHeartbeat = new AtomicReference<>();
    private final List<Thread> threads = new ArrayList<>();
    private final Object registrationLock = new Object();
    private final TrafficMeter meter;
    private final IdleController idle;
    private final RouteProxy proxy;
    private final io.mvm.agent.fence.SelfFenceGuard fence;

    public AgentService(AgentSettings settings, InstanceRuntime runtime, CoordinatorClient coordinator,
                        InstantSource clock) {
        this(settings, runtime, coordinator, clock, Optional.empty());
    }

    /** @param relay where the coordinator reaches this agent for exec and logs, sent at every registration */
    public AgentService(AgentSettings settings, InstanceRuntime runtime, CoordinatorClient coordinator,
                        InstantSource clock, Optional<RelayEndpoint> relay) {
        this(settings, runtime, coordinator, clock, relay, Optional.empty());
    }

    /**
     * @param stateDir where the restart book ({@value #RESTARTS_FILE}) and unsent events
     *                 ({@value #OUTBOX_FILE}) are kept across agent restarts; empty: in memory only
     */
    public AgentService(AgentSettings settings, InstanceRuntime runtime, CoordinatorClient coordinator,
                        InstantSource clock, Optional<RelayEndpoint> relay, Optional<Path> stateDir) {
        this(settings, runtime, coordinator, clock, relay, stateDir, ProxySettings.defaults());
    }

    /** @param proxy where the node's routes listen and the proxy's limits (held connections, hold timeout) */
    public AgentService(AgentSettings settings, InstanceRuntime runtime, CoordinatorClient coordinator,
                        InstantSource clock, Optional<RelayEndpoint> relay, Optional<Path> stateDir,
                        ProxySettings proxy) {
        this.relay = relay;
        this.outbox = new EventOutbox(10_000, stateDir.map(d -> d.resolve(OUTBOX_FILE)));
        this.settings = settings;
        this.runtime = runtime;
        this.coordinator = coordinator;
        this.clock = clock;
        this.health = new HealthRegistry(settings.unresponsiveAfter());
        this.restarts = new RestartBook(settings.restartBackoff(), settings.stablePeriod(),
                stateDir.map(d -> d.resolve(RESTARTS_FILE)));
        this.executor = new StepExecutor(runtime, restarts, health, outbox, clock);
        this.queue = new KeyedWorkQueue<>("reconcile-" + settings.node(), settings.workers(), settings.passBackoff(),
                this::reconcile);
        this.reconciler = new InstanceReconciler(desired, runtime, new ReconcilePlanner(settings.planner()), executor,
                restarts, health, outbox, clock, settings.waitRecheck(), this::changed);
        this.monitor = new HealthMonitor(runtime, health, queue::enqueue, outbox, clock, settings.probeTimeout());
        // Services are restarted when their workload exits: what the coordinator wants right now.
        monitor.restartsWorkload(id -> desired.coordinator().instances().stream()
                .anyMatch(d -> d.id().equals(id) && d.restartWorkload() && d.target() == io.mvm.core.reconcile.Target.RUNNING));
        this.delivery = new ReportDelivery(outbox, coordinator, this::buildReport, EVENTS_PER_REPORT);
        this.meter = new TrafficMeter(clock);
        this.idle = new IdleController(desired, runtime, meter, outbox, clock, queue::enqueue, stateDir);
        this.proxy = new RouteProxy(proxy, idle, meter, clock);
        this.fence = new io.mvm.agent.fence.SelfFenceGuard(io.mvm.core.fence.SelfFence.DEFAULT, clock,
                this::enqueueEverything);
        desired.fence(fence.overlay());
    }

    /** Self-fencing: how long without any coordinator before this agent stops new work and pauses VMs. */
    public AgentService selfFence(io.mvm.core.fence.SelfFence policy) {
        fence.policy(policy);
        return this;
    }

    /** Self-fencing as it stands (tests and status). */
    public io.mvm.agent.fence.SelfFenceGuard fence() {
        return fence;
    }

    public synchronized void start() {
        if (!threads.isEmpty()) {
            throw MvmException.precondition("agent for " + settings.node() + " is already started");
        }
        var adopted = observe();
        log.info("agent {} starting; runtime reports {} VMs, adopting them until the coordinator confirms",
                settings.node(), adopted.size());
        queue.start();
        threads.add(Thread.ofVirtual().name("agent-desired").start(this::followDesiredState));
        threads.add(Thread.ofVirtual().name("agent-heartbeat").start(this::heartbeatLoop));
        threads.add(Thread.ofVirtual().name("agent-report").start(this::reportLoop));
        threads.add(Thread.ofVirtual().name("agent-resync").start(this::resyncLoop));
        threads.add(Thread.ofVirtual().name("agent-health").start(() -> monitor.run(settings.healthInterval())));
        threads.add(Thread.ofVirtual().name("agent-idle").start(this::idleLoop));
    }

    /** The node's routes as served now. */
    public List<Route> routes() {
        return proxy.routes();
    }

    /** The idle policy's side of the agent (what tests look at: idled instances, wakes by traffic). */
    public IdleController idle() {
        return idle;
    }

    /**
     * Once a second: the idle policy's round, and the routes matched to the desired state again
     * (a host port that could not be bound is tried again).
     */
    private void idleLoop() {
        try {
            while (!Thread.currentThread().isInterrupted()) {
                Thread.sleep(IDLE_TICK);
                try {
                    fence.tick();
                    var snapshot = desired.coordinator();
                    if (snapshot.authoritative()) {
                        proxy.sync(snapshot.instances());
                        idle.tick();
                    }
                } catch (RuntimeException e) {
                    log.warn("idle round failed: {}", e.toString());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The last desired generation received, or empty before the coordinator answered. */
    public OptionalLong desiredGeneration() {
        var d = desired.current();
        return d.authoritative() ? OptionalLong.of(d.generation()) : OptionalLong.empty();
    }

    public int desiredResponses() {
        return desiredResponses.get();
    }

    /** Stops the agent's threads (a pass in progress is interrupted); VMs are left as they are. */
    @Override
    public synchronized void close() {
        threads.forEach(Thread::interrupt);
        queue.close();
        for (var t : threads) {
            try {
                t.join(Duration.ofSeconds(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        threads.clear();
        proxy.close();
    }

    private io.mvm.agent.queue.PassResult reconcile(InstanceId id) {
        // Self-fenced (no coordinator for longer than the lease): what runs here is kept (or paused),
        // but nothing new starts; the coordinator may be placing it elsewhere by now.
        if (!fence.acceptsNewWork() && runtime.observe(id).stream().noneMatch(vm -> vm.id().equals(id))) {
            return io.mvm.agent.queue.PassResult.requeueAfter(settings.waitRecheck());
        }
        var result = reconciler.reconcile(id);
        idle.passFinished(id, result);
        nudgeReport();
        return result;
    }

    private void changed(InstanceId id, TenantId tenant) {
        // Role order: peers of the tenant may have been waiting for exactly this change.
        for (var d : desired.current().instances()) {
            if (d.tenant().equals(tenant) && !d.id().equals(id)) {
                queue.enqueue(d.id());
            }
        }
        // Peers as last recorded: asking every VMM of the node after every step would make a
        // resync of N instances cost N² status queries.
        for (var vm : runtime.observe(id)) {
            if (vm.tenant().equals(tenant) && !vm.id().equals(id)) {
                queue.enqueue(vm.id());
            }
        }
        nudgeReport();
    }

    private NodeId ensureRegistered(boolean again) throws InterruptedException {
        synchronized (registrationLock) {
            if (!again && registeredAs.get() != null) {
                return registeredAs.get();
            }
            int attempt = 0;
            while (true) {
                try {
                    var r = coordinator.register(new NodeRegistration(settings.node(), settings.capacity(),
                            settings.labels(), runtime.accelerator(), relay, runtime.underlayAddress()));
                    fence.contact();
                    registeredAs.set(r.node());
                    coordinatorHeartbeat.set(r.heartbeatInterval());
                    log.info("registered with the coordinator as {}", r.node());
                    return r.node();
                } catch (MvmException e) {
                    attempt++;
                    var delay = settings.coordinatorBackoff().delay(attempt);
                    log.warn("cannot register with the coordinator (attempt {}), retrying in {}: {}", attempt, delay,
                            e.getMessage());
                    Thread.sleep(delay);
                }
            }
        }
    }

    private void followDesiredState() {
        int failures = 0;
        try {
            var node = ensureRegistered(false);
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    var current = desired.current();
                    var after = current.authoritative() ? OptionalLong.of(current.generation()) : OptionalLong.empty();
                    var next = coordinator.desired(node, after, settings.longPollWait());
                    fence.contact();
                    failures = 0;
                    var previous = desired.install(next);
                    if (!previous.authoritative() || previous.generation() != next.generation()) {
                        desiredResponses.incrementAndGet();
                        if (previous.authoritative() && next.generation() < previous.generation()) {
                            log.warn("coordinator's generation went back from {} to {}; following it",
                                    previous.generation(), next.generation());
                        }
                        log.info("desired state generation {}: {} instances", next.generation(),
                                next.instances().size());
                        enqueueEverything();
                    }
                    proxy.sync(next.instances());
                    runtime.peers(next.peers());
                } catch (MvmException e) {
                    if (Thread.currentThread().isInterrupted()) {
                        return;
                    }
                    if (e.category() == ErrorCategory.NOT_FOUND || e.category() == ErrorCategory.UNAUTHENTICATED) {
                        node = ensureRegistered(true);
                        continue;
                    }
                    failures++;
                    var delay = settings.coordinatorBackoff().delay(failures);
                    log.warn("desired state unavailable, retrying in {}: {}", delay, e.getMessage());
                    Thread.sleep(delay);
                } catch (RuntimeException e) {
                    failures++;
                    var delay = settings.coordinatorBackoff().delay(failures);
                    log.warn("cannot use the desired state, retrying in {}", delay, e);
                    Thread.sleep(delay);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void heartbeatLoop() {
        try {
            var node = ensureRegistered(false);
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    coordinator.heartbeat(node, lastObservedCount.get());
                    fence.contact();
                } catch (MvmException e) {
                    if (e.category() == ErrorCategory.NOT_FOUND || e.category() == ErrorCategory.UNAUTHENTICATED) {
                        node = ensureRegistered(true);
                        continue;
                    }
                    log.warn("heartbeat failed: {}", e.getMessage());
                } catch (RuntimeException e) {
                    log.warn("heartbeat failed", e);
                }
                Thread.sleep(heartbeatInterval());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The shorter of our own interval and the coordinator's: it derives its interval from its node
     * timeout, so following it keeps a healthy node from being declared lost.
     */
    Duration heartbeatInterval() {
        var theirs = coordinatorHeartbeat.get();
        var ours = settings.heartbeatInterval();
        return theirs == null || theirs.isZero() || theirs.isNegative() || ours.compareTo(theirs) <= 0 ? ours : theirs;
    }

    private List<io.mvm.agent.runtime.LocalVm> observe() {
        var vms = runtime.observe();
        lastObservedCount.set(vms.size());
        return vms;
    }

    private void resyncLoop() {
        try {
            while (!Thread.currentThread().isInterrupted()) {
                Thread.sleep(settings.resyncInterval());
                try {
                    if (desired.current().authoritative()) {
                        enqueueEverything();
                    }
                } catch (RuntimeException | Error e) {
                    // The resync is what catches missed events: one failed round must not end it.
                    log.warn("resync round failed: {}", e.toString());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void enqueueEverything() {
        var ids = new TreeSet<InstanceId>();
        desired.current().instances().forEach(d -> ids.add(d.id()));
        observe().forEach(vm -> ids.add(vm.id()));
        queue.enqueueAll(ids);
        nudgeReport();
    }

    private void nudgeReport() {
        reportNudges.offer(Boolean.TRUE);
    }

    private void reportLoop() {
        try {
            var node = ensureRegistered(false);
            while (!Thread.currentThread().isInterrupted()) {
                reportNudges.poll(settings.reportInterval().toNanos(), TimeUnit.NANOSECONDS);
                try {
                    delivery.deliver(node);
                    fence.contact();
                } catch (MvmException e) {
                    if (Thread.currentThread().isInterrupted()) {
                        return;
                    }
                    if (e.category() == ErrorCategory.NOT_FOUND || e.category() == ErrorCategory.UNAUTHENTICATED) {
                        node = ensureRegistered(true);
                    } else {
                        log.warn("observed-state report failed: {}", e.getMessage());
                        Thread.sleep(settings.coordinatorBackoff().base());
                    }
                } catch (RuntimeException | Error e) {
                    log.warn("observed-state report failed", e);
                    Thread.sleep(settings.coordinatorBackoff().base());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Everything the node has or was told about, with events since the last accepted report. */
    ObservedReport buildReport(List<InstanceEvent> events) {
        var snapshot = desired.current();
        var byId = new HashMap<InstanceId, List<InstanceEvent>>();
        events.forEach(e -> byId.computeIfAbsent(e.instance(), k -> new ArrayList<>()).add(e));
        var reports = new LinkedHashMap<InstanceId, InstanceReport>();
        var accelerator = runtime.accelerator();
        for (var vm : observe()) {
            var history = restarts.get(vm.id());
            InstanceState state = executor.inFlight(vm.id()).orElseGet(() -> switch (vm.state()) {
                case BUSY, UNKNOWN -> InstanceState.UNKNOWN;
                case RUNNING -> InstanceState.RUNNING;
                case WARM -> InstanceState.WARM;
                case SLEEPING -> InstanceState.SLEEPING;
                case STOPPED -> InstanceState.STOPPED;
                case CRASHED -> InstanceState.FAILED;
            });
            var error = history.gaveUp() ? Optional.of(history.lastReason())
                    : vm.state() == VmState.CRASHED ? vm.lastError().or(() -> Optional.of("the VMM exited"))
                    : vm.lastError();
            if (history.gaveUp()) {
                state = InstanceState.FAILED;
            }
            reports.put(vm.id(), new InstanceReport(vm.id(), state, vm.pid(), accelerator, error,
                    byId.getOrDefault(vm.id(), List.of()), routeReports(vm.id()),
                    idle.idledAs(vm.id()).map(io.mvm.core.reconcile.Target::wireName)));
        }
        if (snapshot.authoritative()) {
            for (var d : snapshot.instances()) {
                if (reports.containsKey(d.id())) {
                    continue;
                }
                var state = executor.inFlight(d.id()).orElse(switch (d.target()) {
                    case STOPPED -> InstanceState.STOPPED;
                    case DESTROYED -> InstanceState.DESTROYED;
                    case RUNNING, WARM, SLEEPING -> InstanceState.PENDING;
                });
                reports.put(d.id(), new InstanceReport(d.id(), state, OptionalLong.empty(), accelerator,
                        Optional.empty(), byId.getOrDefault(d.id(), List.of())));
            }
        }
        for (var e : byId.entrySet()) {
            reports.computeIfAbsent(e.getKey(), id -> new InstanceReport(id, InstanceState.DESTROYED,
                    OptionalLong.empty(), accelerator, Optional.empty(), e.getValue()));
        }
        return new ObservedReport(snapshot.generation(), List.copyOf(reports.values()), orphans());
    }

    private List<InstanceReport.RouteReport> routeReports(InstanceId id) {
        return proxy.routes(id).stream().map(r -> new InstanceReport.RouteReport(r.port().guest(), r.boundPort(),
                r.port().protocol(), r.error())).toList();
    }

    /** Empty (left out of the report) when they cannot be listed: the report must still go out. */
    private Optional<List<io.mvm.agent.runtime.Orphan>> orphans() {
        try {
            return Optional.of(runtime.orphans());
        } catch (RuntimeException e) {
            log.warn("cannot list the node's orphaned data: {}", e.getMessage());
            return Optional.empty();
        }
    }
}
