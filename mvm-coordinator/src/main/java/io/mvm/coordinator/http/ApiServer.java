package io.mvm.coordinator.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.Javalin;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.router.Endpoint;
import io.mvm.coordinator.ExpectedVersion;
import io.mvm.coordinator.HttpLimits;
import io.mvm.coordinator.audit.AuditTrail;
import io.mvm.coordinator.auth.Caller;
import io.mvm.coordinator.auth.Access;
import io.mvm.coordinator.auth.ApiTokens;
import io.mvm.coordinator.auth.TenantRole;
import io.mvm.coordinator.http.GuardedRoutes.Scope;
import io.mvm.store.auth.ApiToken;
import io.mvm.coordinator.auth.TokenAuthenticator;
import io.mvm.coordinator.http.relay.InstanceRelay;
import io.mvm.coordinator.instance.InstanceService;
import io.mvm.coordinator.node.NodeRegistration;
import io.mvm.coordinator.node.NodeService;
import io.mvm.coordinator.node.ObservedReport;
import io.mvm.coordinator.pool.PoolPatch;
import io.mvm.coordinator.pool.PoolService;
import io.mvm.coordinator.pool.PoolSpec;
import io.mvm.coordinator.tenant.TenantService;
import io.mvm.coordinator.vms.VmJobService;
import io.mvm.core.lifecycle.InstanceAction;
import io.mvm.core.liveness.OnNodeLost;
import io.mvm.core.placement.Capacity;
import io.mvm.core.pool.TargetCounts;
import io.mvm.core.pool.TenantQuota;
import io.mvm.model.Accelerator;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.PoolName;
import io.mvm.model.PoolRef;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import io.mvm.store.audit.AuditEntry;
import io.mvm.store.instance.Instance;
import io.mvm.store.instance.InstanceStore;
import io.mvm.store.node.NodeOrphan;
import io.mvm.store.pool.Pool;
import io.mvm.store.pool.Workload;
import io.mvm.store.tenant.Tenant;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP edge. Handlers only translate: parse and validate the request into a command, call a
 * service, map the result to a view. Status codes for failures come from {@link Problems}.
 */
public final class ApiServer {
    private static final Logger log = LoggerFactory.getLogger(ApiServer.class);
    private static final Pattern TENANT_IN_PATH = Pattern.compile("^/v1/tenants/([^/]+)");
    private static final String STARTED = "mvm.started";
    private static final String PERMIT = "mvm.permit";
    private static final String JSON = "application/json";

    private final ObjectMapper mapper = ApiJson.mapper();
    private final RequestBodies bodies;
    private final TokenAuthenticator auth;
    private final TenantService tenants;
    private final PoolService pools;
    private final InstanceService instances;
    private final NodeService nodes;
    private final ApiTokens tokens;
    private List<GuardedRoutes.Rule> rules = List.of();
    private final VmsRoutes vms;
    private final TemplatesRoutes templateRoutes;
    private final RolloutRoutes rolloutRoutes;
    private final CoordinatorsRoutes coordinatorsRoutes;
    private final io.mvm.coordinator.template.TemplateService templateService;
    private final Limits limits;

    /** The in-flight budget and the two rate limiters of this edge. */
    private record Limits(RequestBudget budget, RateLimiter perToken, RateLimiter unauthenticated) {}

    private final HttpLimits httpLimits;
    private final InstanceAccessRoutes instanceAccess;
    private final Duration heartbeatInterval;
    private final RequestBodies agentBodies;
    private final AuditTrail audit;
    private final HttpMetrics metrics = new HttpMetrics();
    private final byte[] openApi;
    private final int bodyLimitBytes;
    private final io.mvm.coordinator.tls.ControlChannel channel;
    private Javalin app;

    /** Counts for the gauges; read from the database at scrape time. */
    public record Gauges(LongSupplier tenants, LongSupplier pools, LongSupplier instances, LongSupplier nodesReady,
                         LongSupplier nodesLost, LongSupplier instancesUnplaced) {}

    public ApiServer(TokenAuthenticator auth, TenantService tenants, PoolService pools, InstanceService instances,
                     NodeService nodes, ApiTokens tokens, InstanceRelay relay, VmJobService vmJobs,
                     io.mvm.coordinator.warm.WarmPools warmPools,
                     io.mvm.coordinator.template.TemplateService templates,
                     io.mvm.coordinator.template.RolloutService rollouts, Duration heartbeatInterval, AuditTrail audit, Gauges gauges, int bodyLimitBytes,
                     HttpLimits httpLimits, io.mvm.coordinator.leader.ClusterStatus cluster,
                     io.mvm.coordinator.tls.ControlChannel channel) {
        this.coordinatorsRoutes = new CoordinatorsRoutes(cluster, this::json);
        this.channel = channel;
        this.httpLimits = httpLimits;
        this.limits = new Limits(new RequestBudget(httpLimits.nodeInFlight(), httpLimits.userInFlight()),
                new RateLimiter(httpLimits.tokenRatePerSec(), httpLimits.tokenBurst(), System::nanoTime),
                new RateLimiter(httpLimits.refusedRatePerSec(), httpLimits.refusedBurst(), System::nanoTime));
        this.tokens = tokens;
        this.heartbeatInterval = heartbeatInterval;
        // Observed reports list every instance of a node: allow them more room than user requests.
        this.agentBodies = new RequestBodies(ApiJson.lenientMapper(), Math.max(bodyLimitBytes, 4 * 1024 * 1024));
        this.auth = auth;
        this.tenants = tenants;
        this.pools = pools;
        this.instances = instances;
        this.nodes = nodes;
        this.audit = audit;
        this.bodyLimitBytes = bodyLimitBytes;
        this.bodies = new RequestBodies(mapper, bodyLimitBytes);
        this.vms = new VmsRoutes(vmJobs, warmPools, bodies, this::json, metrics);
        metrics.gauge("mvm_warm_vms", "Warm VMs standing by for /vms claims (booting, paused, or failed)",
                () -> warmPools.list().size());
        metrics.multiGauge("mvm_warm_vms_by_spec", "Warm VMs standing by per spec hash (its first 24 hex digits) and state",
                () -> warmPools.list().stream().collect(java.util.stream.Collectors.groupingBy(
                        w -> List.of(w.specHash(), w.status()), java.util.stream.Collectors.counting())),
                "spec_hash", "state");
        this.templateRoutes = new TemplatesRoutes(templates, this::json);
        this.instanceAccess = new InstanceAccessRoutes(instances, relay, bodies, audit, httpLimits);
        this.templateService = templates;
        this.rolloutRoutes = new RolloutRoutes(rollouts, pools, bodies, this::json);
        this.openApi = loadOpenApi();
        metrics.gauge("mvm_tenants", "Tenants known to the coordinator", gauges.tenants());
        metrics.gauge("mvm_pools", "Pools known to the coordinator", gauges.pools());
        metrics.gauge("mvm_instances", "Instance records known to the coordinator", gauges.instances());
        metrics.gauge("mvm_nodes_ready", "Nodes that heartbeat in time", gauges.nodesReady());
        metrics.gauge("mvm_nodes_lost", "Nodes silent for longer than the lost timeout", gauges.nodesLost());
        metrics.gauge("mvm_instances_unplaced", "Instances no ready node can take (see pending_reason)",
                gauges.instancesUnplaced());
    }

    /** Listens on {@code host:port}; with {@code tls}, HTTPS only (callers' certificates asked for, not required). */
    public int start(String host, int port, Optional<javax.net.ssl.SSLContext> tls) {
        app = Javalin.create(config -> {
            tls.ifPresent(ctx -> config.jetty.addConnector((server, http) ->
                    TlsConnector.create(server, http, ctx, host, port, false)));
            config.startup.showJavalinBanner = false;
            config.startup.showOldJavalinVersionWarning = false;
            config.concurrency.useVirtualThreads = true;
            config.http.maxRequestSize = bodyLimitBytes;
            config.router.ignoreTrailingSlashes = true;
            routes(config.routes);
        });
        if (tls.isPresent()) {
            app.start();
        } else {
            app.start(host, port);
        }
        return app.port();
    }

    public void stop() {
        if (app != null) {
            app.stop();
        }
    }

    /** Every registered (method, path) pair, for the OpenAPI conformance test. */
    public List<Map.Entry<String, String>> registeredRoutes() {
        return app.unsafe.internalRouter.allHttpHandlers().stream()
                .map(p -> p.endpoint)
                .filter(e -> e.method.isHttpMethod())
                .map(e -> Map.entry(e.method.name(), e.path))
                .toList();
    }

    private void routes(RoutesConfig r) {
        r.before(this::beforeEach);
        r.after(this::afterEach);
        r.exception(MvmException.class, (e, ctx) -> problem(ctx, e));
        r.exception(Exception.class, (e, ctx) -> {
            log.error("unexpected failure on {} {}", ctx.method(), ctx.path(), e);
            problem(ctx, MvmException.internal("internal error", e));
        });
        r.error(404, ctx -> {
            if (!isProblem(ctx)) {
                writeProblem(ctx, 404, Problems.plain(404, "no-such-route", "no route " + ctx.method() + " "
                        + ctx.path() + "; see /openapi.json", ctx.path()));
            }
        });
        r.error(405, ctx -> {
            if (!isProblem(ctx)) {
                writeProblem(ctx, 405, Problems.plain(405, "method-not-allowed", "method " + ctx.method()
                        + " is not allowed on " + ctx.path(), ctx.path()));
            }
        });

        GuardedRoutes g = new GuardedRoutes(r, this::tenantOf, (tenant, request, reason) -> {
            try {
                audit.denied(tenant, request, reason);
            } catch (RuntimeException e) {
                log.warn("could not audit a refused request to {}: {}", request, e.toString());
            }
        });
        g.get("/healthz", Access.PUBLIC, Scope.NONE, ctx -> json(ctx, 200, new Views.Health("ok")));
        g.get("/metrics", Access.METRICS, Scope.NONE,
                ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape()));
        g.get("/openapi.json", Access.ANY_TOKEN, Scope.NONE, ctx -> ctx.contentType(JSON).result(openApi));

        // nodes: the agent protocol is for each node's own token; admins see nodes but never a
        // node's desired state (it carries secrets).
        g.get("/v1/nodes", Access.ADMIN, Scope.NONE, this::listNodes);
        g.get("/v1/nodes/{node}", Access.NODE_OR_ADMIN, Scope.PATH_NODE,
                ctx -> json(ctx, 200, Views.node(nodes.get(nodeId(ctx)))));
        g.post("/v1/nodes/register", Access.ANY_NODE, Scope.NONE, this::registerNode);
        g.post("/v1/nodes/{node}/approve-capacity", Access.ADMIN, Scope.PATH_NODE,
                ctx -> json(ctx, 200, Views.node(nodes.approveCapacity(caller(ctx), nodeId(ctx)))));
        g.post("/v1/nodes/{node}/heartbeat", Access.NODE_SELF, Scope.PATH_NODE, ctx -> {
            agentBodies.read(ctx, Requests.Heartbeat.class);
            nodes.heartbeat(caller(ctx), nodeId(ctx));
            ctx.status(204);
        });
        g.get("/v1/nodes/{node}/desired", Access.NODE_SELF, Scope.PATH_NODE, this::desired);
        g.post("/v1/nodes/{node}/observed", Access.NODE_SELF, Scope.PATH_NODE, this::observed);
        g.post("/v1/nodes/{node}/certificate", Access.NODE_SELF, Scope.PATH_NODE, ctx -> {
            if (channel.insecure()) {
                throw MvmException.precondition("this coordinator runs --insecure: it issues no certificates");
            }
            Requests.CertificateRequest req = agentBodies.read(ctx, Requests.CertificateRequest.class);
            String certificate = issueCertificate(caller(ctx), nodeId(ctx), required(req.csr(), "csr"));
            json(ctx, 200, new Views.CertificateView(certificate, channel.caPem()));
        });
        g.post("/v1/node-tokens", Access.ADMIN, Scope.NONE, ctx -> {
            Requests.CreateNodeToken req = bodies.read(ctx, Requests.CreateNodeToken.class);
            ApiTokens.Issued issued = tokens.issueNode(caller(ctx), NodeId.of(required(req.nodeId(), "node_id")));
            json(ctx, 201, new Views.NodeTokenView(issued.id(), issued.stored().node().orElseThrow().value(),
                    issued.token(), channel.caFingerprint(), !channel.insecure()));
        });
        g.get("/v1/node-tokens", Access.ADMIN, Scope.NONE, ctx -> {
            Paging.Request req = Paging.request(ctx);
            page(ctx, Paging.slice(tokens.list(ApiToken.Kind.NODE), req, t -> t.token().id()), Views::nodeToken);
        });
        g.delete("/v1/node-tokens/{token}", Access.ADMIN, Scope.NONE, ctx -> {
            tokens.revoke(caller(ctx), ApiToken.Kind.NODE, ctx.pathParam("token"));
            ctx.status(204);
        });
        // tenant and metrics tokens
        g.post("/v1/tokens", Access.ADMIN, Scope.NONE, this::createToken);
        g.get("/v1/tokens", Access.ADMIN, Scope.NONE, ctx -> {
            Paging.Request req = Paging.request(ctx);
            List<Views.TokenListing> all = new ArrayList<>();
            tokens.list(ApiToken.Kind.TENANT).forEach(t -> all.add(Views.token(t)));
            tokens.list(ApiToken.Kind.METRICS).forEach(t -> all.add(Views.token(t)));
            page(ctx, Paging.slice(all, req, Views.TokenListing::id), t -> t);
        });
        g.delete("/v1/tokens/{token}", Access.ADMIN, Scope.NONE, ctx -> {
            String id = ctx.pathParam("token");
            try {
                tokens.revoke(caller(ctx), ApiToken.Kind.TENANT, id);
            } catch (MvmException e) {
                if (e.category() != ErrorCategory.NOT_FOUND) {
                    throw e;
                }
                tokens.revoke(caller(ctx), ApiToken.Kind.METRICS, id);
            }
            ctx.status(204);
        });

        g.post("/v1/tenants", Access.ADMIN, Scope.NONE, this::createTenant);
        g.get("/v1/tenants", Access.TENANT_LIST, Scope.NONE, this::listTenants);
        g.get("/v1/tenants/{tenant}", Access.TENANT_READ, Scope.PATH_TENANT, ctx -> {
            Tenant t = tenants.get(tenantId(ctx));
            etag(ctx, t.version());
            json(ctx, 200, Views.tenant(t, tenants.pools(t.id())));
        });
        g.delete("/v1/tenants/{tenant}", Access.ADMIN, Scope.PATH_TENANT, ctx -> {
            tenants.delete(caller(ctx), tenantId(ctx), ifMatch(ctx), booleanQuery(ctx, "force"));
            ctx.status(204);
        });
        g.get("/v1/tenants/{tenant}/audit", Access.TENANT_READ, Scope.PATH_TENANT, this::auditPage);
        g.get("/v1/audit", Access.ADMIN, Scope.NONE, ctx -> {
            long after = auditAfter(ctx);
            int limit = Paging.request(ctx).limit();
            List<AuditEntry> page = audit.clusterPage(after, limit);
            auditAnswer(ctx, page, limit);
        });

        g.post("/v1/tenants/{tenant}/pools", Access.TENANT_WRITE, Scope.PATH_TENANT, this::createPool);
        g.get("/v1/tenants/{tenant}/pools", Access.TENANT_READ, Scope.PATH_TENANT, ctx -> {
            Paging.Request req = Paging.request(ctx);
            page(ctx, Paging.of(tenants.poolsPage(tenantId(ctx), req.after(), req.probe()), req,
                    p -> p.ref().name().value()), p -> Views.pool(p, pools.scale(p.ref())));
        });
        g.get("/v1/tenants/{tenant}/pools/{pool}", Access.TENANT_READ, Scope.PATH_TENANT, ctx -> {
            Pool p = pools.get(poolRef(ctx));
            etag(ctx, p.version());
            json(ctx, 200, Views.pool(p, pools.scale(p.ref())));
        });
        new RoutesRoutes(nodes, this::json).register(g);
        g.patch("/v1/tenants/{tenant}/pools/{pool}", Access.TENANT_WRITE, Scope.PATH_TENANT, this::patchPool);
        g.delete("/v1/tenants/{tenant}/pools/{pool}", Access.TENANT_WRITE, Scope.PATH_TENANT, ctx -> {
            pools.delete(caller(ctx), poolRef(ctx), ifMatch(ctx));
            ctx.status(204);
        });

        g.get("/v1/tenants/{tenant}/instances", Access.TENANT_READ, Scope.PATH_TENANT, ctx -> {
            Paging.Request req = Paging.request(ctx);
            InstanceStore.Filter filter = new InstanceStore.Filter(
                    Optional.ofNullable(ctx.queryParam("pool")).map(PoolName::of),
                    Optional.ofNullable(ctx.queryParam("state")).map(InstanceState::parse),
                    Optional.ofNullable(ctx.queryParam("node")).map(NodeId::of));
            page(ctx, Paging.of(instances.page(tenantId(ctx), filter, req.after(), req.probe()), req,
                    i -> i.id().value()), this::instanceView);
        });
        g.get("/v1/instances/{id}", Access.TENANT_READ, Scope.INSTANCE, ctx -> {
            Instance i = instances.get(instanceId(ctx));
            etag(ctx, i.version());
            json(ctx, 200, instanceView(i));
        });
        g.get("/v1/instances/{id}/events", Access.TENANT_READ, Scope.INSTANCE, ctx -> {
            // Pages go back in time: the first is the newest events, each next one older ones.
            Paging.Request req = Paging.request(ctx, 50);
            Optional<InstanceStore.EventKey> before = req.after().map(ApiServer::eventKey);
            List<InstanceStore.KeyedEvent> fetched = nodes.eventsBefore(instanceId(ctx), before, req.probe());
            List<InstanceStore.KeyedEvent> items = fetched.size() > req.limit() ? fetched.subList(1, fetched.size())
                    : fetched;
            Optional<String> next = fetched.size() > req.limit()
                    ? Optional.of(items.getFirst().key().at() + ":" + items.getFirst().key().seq()) : Optional.empty();
            page(ctx, new Paging.Page<>(items, next), e -> Views.event(e.event()));
        });
        instanceAccess.register(g);
        g.delete("/v1/instances/{id}", Access.TENANT_WRITE, Scope.INSTANCE, ctx -> {
            InstanceId id = instanceId(ctx);
            boolean deleted = instances.destroy(caller(ctx), id, ifMatch(ctx));
            if (deleted) {
                ctx.status(204);
            } else {
                json(ctx, 202, instanceView(instances.get(id)));
            }
        });
        // giving up an instance's data on a lost node is the operator's call
        g.post("/v1/instances/{id}/evacuate", Access.ADMIN, Scope.INSTANCE, ctx -> {
            Instance i = instances.evacuate(caller(ctx), instanceId(ctx));
            etag(ctx, i.version());
            json(ctx, 200, instanceView(i));
        });
        for (InstanceAction action : InstanceAction.values()) {
            g.post("/v1/instances/{id}/" + action.wireName(), Access.TENANT_WRITE, Scope.INSTANCE, ctx -> {
                Instance i = instances.act(caller(ctx), instanceId(ctx), action);
                etag(ctx, i.version());
                json(ctx, 200, instanceView(i));
            });
        }
        vms.register(g);
        templateRoutes.register(g);
        rolloutRoutes.register(g);
        coordinatorsRoutes.register(g);
        this.rules = g.rules();
    }

    /** An instance with its template revisions (assigned and booted). */
    private Views.InstanceView instanceView(Instance i) {
        return Views.instance(i, templateService.instanceRevision(i.id().value()));
    }

    /** Every route's access rule, for the test that walks them all with every kind of token. */
    public List<String> accessRules() {
        return rules.stream().map(rule -> rule.method() + " " + rule.path() + " " + rule.access()).toList();
    }

    private Optional<TenantId> tenantOf(Scope scope, Context ctx) {
        return switch (scope) {
            case PATH_TENANT -> Optional.of(tenantId(ctx));
            case INSTANCE -> Optional.of(instances.get(instanceId(ctx)).pool().tenant());
            case JOB -> Optional.of(vms.tenantOf(ctx));
            case NONE, PATH_NODE, CALLERS_TENANT -> Optional.empty();
        };
    }

    private void createToken(Context ctx) {
        Requests.CreateToken req = bodies.read(ctx, Requests.CreateToken.class);
        String kind = required(req.kind(), "kind");
        ApiTokens.Issued issued = switch (kind) {
            case "tenant" -> tokens.issueTenant(caller(ctx), TenantId.of(required(req.tenant(), "tenant")),
                    TenantRole.parse(required(req.role(), "role")), Optional.ofNullable(req.name()));
            case "metrics" -> tokens.issueMetrics(caller(ctx), Optional.ofNullable(req.name()));
            default -> throw MvmException.invalid("kind must be tenant or metrics (node tokens: POST /v1/node-tokens),"
                    + " got '" + kind + "'");
        };
        var t = issued.stored();
        json(ctx, 201, new Views.TokenView(issued.id(), kind, t.name(), t.tenant().map(TenantId::value).orElse(null),
                t.role().orElse(null), issued.token()));
    }

    private void createTenant(Context ctx) {
        Requests.CreateTenant req = bodies.read(ctx, Requests.CreateTenant.class);
        TenantId id = TenantId.of(required(req.id(), "id"));
        TenantQuota d = TenantQuota.DEFAULT;
        TenantQuota quota = new TenantQuota(Optional.ofNullable(req.maxVcpus()).orElse(d.maxVcpus()),
                Optional.ofNullable(req.maxMemoryMib()).orElse(d.maxMemoryMib()),
                Optional.ofNullable(req.maxInstances()).orElse(d.maxInstances()));
        Tenant t = tenants.create(caller(ctx), id, quota);
        etag(ctx, t.version());
        ctx.header("Location", "/v1/tenants/" + t.id());
        json(ctx, 201, Views.tenant(t, List.of()));
    }

    private void createPool(Context ctx) {
        TenantId tenant = tenantId(ctx);
        Requests.CreatePool req = bodies.read(ctx, Requests.CreatePool.class);
        PoolRef ref = new PoolRef(tenant, PoolName.of(required(req.name(), "name")));
        PoolSpec spec = new PoolSpec(ref, req.role() == null ? Role.DEFAULT : Role.parse(req.role()),
                required(req.profile(), "profile"), required(req.flake(), "flake"), Optional.ofNullable(req.template()),
                required(req.vcpus(), "vcpus"), required(req.memoryMib(), "memory_mib"),
                Optional.ofNullable(req.dataDiskMib()).orElse(1024L),
                new TargetCounts(orZero(req.running()), orZero(req.warm()), orZero(req.sleeping()), 0),
                new Workload(orEmpty(req.cmd()), orEmpty(req.env()), orEmpty(req.secrets()), orEmpty(req.configFiles()),
                        Boolean.TRUE.equals(req.restartWorkload())),
                Optional.ofNullable(req.onNodeLost()).map(OnNodeLost::parse).orElse(OnNodeLost.AUTO));
        Pool p = pools.create(caller(ctx), spec, RoutesRoutes.exposure(req.ports(), req.idle()));
        etag(ctx, p.version());
        ctx.header("Location", "/v1/tenants/" + tenant + "/pools/" + ref.name());
        json(ctx, 201, Views.pool(p, pools.scale(ref)));
    }

    private void patchPool(Context ctx) {
        PoolRef ref = poolRef(ctx);
        Requests.PatchPool req = bodies.read(ctx, Requests.PatchPool.class);
        PoolPatch patch = new PoolPatch(Optional.ofNullable(req.running()), Optional.ofNullable(req.warm()),
                Optional.ofNullable(req.sleeping()), Optional.ofNullable(req.stopped()), Optional.ofNullable(req.vcpus()),
                Optional.ofNullable(req.memoryMib()), Optional.ofNullable(req.dataDiskMib()),
                Optional.ofNullable(req.template()), Optional.ofNullable(req.role()).map(Role::parse),
                Optional.ofNullable(req.cmd()).map(ApiServer::noNulls).map(List::copyOf),
                Optional.ofNullable(req.env()).map(ApiServer::noNulls).map(Map::copyOf),
                Optional.ofNullable(req.secrets()).map(ApiServer::noNulls).map(Map::copyOf),
                Optional.ofNullable(req.configFiles()).map(ApiServer::noNulls).map(Map::copyOf),
                Optional.ofNullable(req.onNodeLost()).map(OnNodeLost::parse), Optional.ofNullable(req.restartWorkload()));
        Pool p = pools.patch(caller(ctx), ref, patch, ifMatch(ctx), RoutesRoutes.ports(req.ports()),
                RoutesRoutes.idle(req.idle()));
        etag(ctx, p.version());
        json(ctx, 200, Views.pool(p, pools.scale(ref)));
    }

    private void registerNode(Context ctx) {
        Requests.RegisterNode req = agentBodies.read(ctx, Requests.RegisterNode.class);
        Requests.Capacity cap = required(req.capacity(), "capacity");
        NodeRegistration registration = new NodeRegistration(NodeId.of(required(req.nodeId(), "node_id")),
                new Capacity(required(cap.vcpus(), "capacity.vcpus"), required(cap.memoryMib(), "capacity.memory_mib"),
                        required(cap.diskMib(), "capacity.disk_mib")),
                req.labels() == null ? Map.of() : noNulls(req.labels()), Accelerator.parse(required(req.accelerator(), "accelerator")),
                Optional.ofNullable(req.agentUrl()).map(ApiServer::uri), Optional.empty(),
                Optional.ofNullable(req.underlayAddress()));
        nodes.register(caller(ctx), registration);
        // The node's certificate for its own key (TLS only: an insecure channel has no use for it).
        String certificate = req.csr() == null || channel.insecure() ? null
                : issueCertificate(caller(ctx), registration.node(), req.csr());
        json(ctx, 200, new Views.RegisteredView(registration.node().value(), null, heartbeatInterval.toSeconds(),
                certificate, certificate == null ? null : channel.caPem(), channel.relayToken(registration.node())));
    }

    /** A node certificate for the key in {@code csr}, audited in the cluster's trail (never the key or certificate). */
    private String issueCertificate(Caller caller, NodeId node, String csr) {
        String pem = channel.issueNode(node, csr);
        var cert = io.mvm.tls.Pem.certificate(pem);
        audit.clusterEvent(caller, "node-certificate.issue", "nodes/" + node + " (serial "
                + cert.getSerialNumber().toString(16) + ", until " + cert.getNotAfter().toInstant() + ")");
        return pem;
    }

    private void desired(Context ctx) throws InterruptedException {
        NodeId id = nodeId(ctx);
        String afterText = ctx.queryParam("after_generation");
        OptionalLong after = afterText == null ? OptionalLong.empty() : OptionalLong.of(longQuery(ctx, "after_generation", 0));
        long wait = longQuery(ctx, "wait_secs", 30);
        if (wait < 0 || wait > NodeService.MAX_WAIT.toSeconds()) {
            throw MvmException.invalid("wait_secs must be 0-" + NodeService.MAX_WAIT.toSeconds() + ", got " + wait);
        }
        json(ctx, 200, Views.desired(nodes.desired(caller(ctx), id, after, Duration.ofSeconds(wait))));
    }

    private void observed(Context ctx) {
        NodeId id = nodeId(ctx);
        caller(ctx).requireNodeOrAdmin(id);
        Requests.Observed req = agentBodies.read(ctx, Requests.Observed.class);
        List<ObservedReport.Observed> items = new ArrayList<>();
        for (Requests.ObservedInstance i : req.instances() == null ? List.<Requests.ObservedInstance>of() : req.instances()) {
            List<ObservedReport.Event> events = new ArrayList<>();
            for (Requests.ObservedEvent e : i.events() == null ? List.<Requests.ObservedEvent>of() : i.events()) {
                events.add(new ObservedReport.Event(time(required(e.time(), "events.time")),
                        required(e.type(), "events.type"), e.message() == null ? "" : e.message()));
            }
            items.add(new ObservedReport.Observed(InstanceId.of(required(i.id(), "instances.id")),
                    InstanceState.parse(required(i.state(), "instances.state")), Optional.ofNullable(i.pid()),
                    Optional.ofNullable(i.accelerator()).map(Accelerator::parse), Optional.ofNullable(i.lastError()),
                    events, i.template() != null && i.templateRevision() != null
                            ? Optional.of(new ObservedReport.Booted(truncate(i.template(), 64),
                                    truncate(i.templateRevision(), 64)))
                            : Optional.empty(), RoutesRoutes.reported(i.routes())));
        }
        Optional<List<NodeOrphan>> orphans = Optional.ofNullable(req.orphans()).map(list -> list.stream()
                .map(o -> new NodeOrphan(required(o.instanceId(), "orphans.instance_id"), required(o.path(), "orphans.path"),
                        o.bytes() == null ? 0 : o.bytes(), o.reason() == null ? "" : truncate(o.reason(), 500),
                        time(required(o.at(), "orphans.at"))))
                .toList());
        nodes.observe(caller(ctx), id, new ObservedReport(req.desiredGeneration() == null ? -1 : req.desiredGeneration(),
                items, orphans));
        ctx.status(204);
    }

    private static String truncate(String text, int max) {
        return text.length() <= max ? text : text.substring(0, max) + "…";
    }

    private static Instant time(String text) {
        try {
            return Instant.parse(text);
        } catch (java.time.format.DateTimeParseException e) {
            throw MvmException.invalid("invalid time '" + text + "': expected RFC 3339 UTC such as 2026-11-21T12:00:00Z");
        }
    }

    private static URI uri(String text) {
        try {
            return URI.create(text);
        } catch (IllegalArgumentException e) {
            throw MvmException.invalid("agent_url '" + text + "' is not a URL");
        }
    }

    private static NodeId nodeId(Context ctx) {
        return NodeId.of(ctx.pathParam("node"));
    }

    private void auditPage(Context ctx) {
        TenantId tenant = tenantId(ctx);
        long after = auditAfter(ctx);
        int limit = Paging.request(ctx).limit();
        List<AuditEntry> page = audit.page(tenant, after, limit);
        if (page.isEmpty() && after == 0) {
            // A deleted tenant's trail stays readable; a name that never had one is unknown.
            tenants.get(tenant);
        }
        auditAnswer(ctx, page, limit);
    }

    /** The audit trail's own key is its sequence number: {@code after} (kept for old clients) or a cursor. */
    private static long auditAfter(Context ctx) {
        long after = longQuery(ctx, "after", 0);
        Optional<String> cursor = Paging.request(ctx).after();
        if (cursor.isPresent()) {
            try {
                after = Long.parseLong(cursor.get());
            } catch (NumberFormatException e) {
                throw MvmException.invalid("query parameter 'cursor' is not a cursor of the audit trail");
            }
        }
        return after;
    }

    private void auditAnswer(Context ctx, List<AuditEntry> page, int limit) {
        Long next = page.size() == limit ? page.getLast().seq() : null;
        String cursor = Paging.linkNext(ctx, Optional.ofNullable(next).map(String::valueOf));
        json(ctx, 200, new Views.AuditPage(page.stream().map(Views::audit).toList(), next, cursor));
    }

    private static InstanceStore.EventKey eventKey(String key) {
        String[] parts = key.split(":", -1);
        try {
            if (parts.length == 2) {
                return new InstanceStore.EventKey(Long.parseLong(parts[0]), Long.parseLong(parts[1]));
            }
        } catch (NumberFormatException e) {
            // the message below
        }
        throw MvmException.invalid("query parameter 'cursor' is not a cursor of an instance's events");
    }

    /** Writes one page of a list: its items as views, the next cursor in the body and as a Link header. */
    private <T, V> void page(Context ctx, Paging.Page<T> page, java.util.function.Function<T, V> view) {
        String next = Paging.linkNext(ctx, page.nextKey());
        json(ctx, 200, new Views.ListOf<>(page.items().stream().map(view).toList(), next));
    }

    private void listTenants(Context ctx) {
        Paging.Request req = Paging.request(ctx);
        Optional<TenantId> only = caller(ctx).tenant();
        if (only.isPresent()) {
            // A tenant's token sees its own tenant only: a list of one.
            boolean shown = req.after().map(a -> a.compareTo(only.get().value()) < 0).orElse(true);
            List<TenantService.Listed> one = shown
                    ? List.of(new TenantService.Listed(tenants.get(only.get()), tenants.pools(only.get()))) : List.of();
            page(ctx, new Paging.Page<>(one, Optional.empty()), l -> Views.tenant(l.tenant(), l.pools()));
            return;
        }
        page(ctx, Paging.of(tenants.page(req.after(), req.probe()), req, l -> l.tenant().id().value()),
                l -> Views.tenant(l.tenant(), l.pools()));
    }

    private void listNodes(Context ctx) {
        Paging.Request req = Paging.request(ctx);
        Map<String, String> labels = new java.util.TreeMap<>();
        for (String l : ctx.queryParams("label")) {
            int eq = l.indexOf('=');
            if (eq < 1) {
                throw MvmException.invalid("query parameter 'label' must be KEY=VALUE, got '" + l + "'");
            }
            labels.put(l.substring(0, eq), l.substring(eq + 1));
        }
        Optional<String> status = Optional.ofNullable(ctx.queryParam("status"));
        page(ctx, Paging.of(nodes.page(req.after(), req.probe(), labels, status), req, n -> n.node().id().value()),
                Views::node);
    }

    // ---- request plumbing ----

    private void beforeEach(Context ctx) {
        ctx.attribute(STARTED, System.nanoTime());
        if (ctx.path().equals("/healthz")) {
            return;
        }
        boolean nodeTraffic = ctx.path().startsWith("/v1/nodes/") && !ctx.path().endsWith("/approve-capacity");
        java.util.concurrent.Semaphore permit = limits.budget().tryEnter(nodeTraffic);
        if (permit == null) {
            throw new RateLimitedException("too many requests in flight (" + (nodeTraffic ? "node" : "user")
                    + " traffic); retry shortly", 1);
        }
        ctx.attribute(PERMIT, permit);
        try {
            Caller caller = authenticate(ctx);
            ctx.attribute("mvm.caller", caller);
            // Node tokens are not rate-limited per token: their own budget keeps them apart.
            long wait = caller.isNode() ? 0 : limits.perToken().acquire(caller.actor());
            if (wait > 0) {
                throw new RateLimitedException("too many requests from " + caller.actor() + "; retry in " + wait
                        + " s", wait);
            }
        } catch (RateLimitedException e) {
            throw e;
        } catch (MvmException e) {
            // Refused before any database work is repeated: a flood of bad tokens from one address
            // is cut off by address.
            long wait = limits.unauthenticated().acquire(ctx.ip());
            if (wait > 0) {
                throw new RateLimitedException("too many refused requests from " + ctx.ip() + "; retry in " + wait
                        + " s", wait);
            }
            try {
                audit.denied(tenantInPath(ctx.path()), ctx.method().name() + " " + ctx.path(), e.getMessage());
            } catch (RuntimeException auditFailure) {
                log.warn("could not audit a refused request to {}: {}", ctx.path(), auditFailure.toString());
            }
            throw e;
        }
    }

    /**
     * A verified client certificate of the cluster CA names a node, and that is who the caller is
     * (whatever bearer token comes with it). Without one, the bearer token decides; with TLS on,
     * a node token then only enrols (registration, which hands out the certificate): nodes are
     * authenticated by certificate from then on.
     */
    private Caller authenticate(Context ctx) {
        var identity = channel.identify(TlsConnector.peerCertificates(ctx.req()));
        if (identity.isPresent() && identity.get() instanceof io.mvm.tls.PeerIdentity.Node(NodeId node)) {
            auth.requireMember(node);
            return new Caller("node-cert:" + node, new io.mvm.coordinator.auth.Principal.Node(node));
        }
        Caller caller = auth.authenticate(ctx.header("Authorization"));
        if (caller.isNode() && !channel.insecure() && !ctx.path().equals("/v1/nodes/register")) {
            throw new MvmException(ErrorCategory.UNAUTHENTICATED, "nodes authenticate by their certificate; a node token"
                    + " only enrols (POST /v1/nodes/register with a csr)");
        }
        return caller;
    }

    private void afterEach(Context ctx) {
        java.util.concurrent.Semaphore permit = ctx.attribute(PERMIT);
        if (permit != null) {
            permit.release();
            ctx.attribute(PERMIT, null);
        }
        Long started = ctx.attribute(STARTED);
        if (started == null) {
            return;
        }
        String route;
        try {
            Endpoint endpoint = ctx.endpoints().lastHttpEndpoint();
            route = endpoint == null || !endpoint.method.isHttpMethod() ? "unmatched" : endpoint.path;
        } catch (RuntimeException e) {
            route = "unmatched";
        }
        metrics.request(ctx.method().name(), route, ctx.statusCode(), Duration.ofNanos(System.nanoTime() - started));
    }

    private static Optional<TenantId> tenantInPath(String path) {
        Matcher m = TENANT_IN_PATH.matcher(path);
        if (!m.find()) {
            return Optional.empty();
        }
        try {
            return Optional.of(TenantId.of(m.group(1)));
        } catch (MvmException notAnId) {
            return Optional.empty();
        }
    }

    static Caller caller(Context ctx) {
        Caller caller = ctx.attribute("mvm.caller");
        if (caller == null) {
            throw new MvmException(ErrorCategory.UNAUTHENTICATED, "not authenticated");
        }
        return caller;
    }

    private static TenantId tenantId(Context ctx) {
        return TenantId.of(ctx.pathParam("tenant"));
    }

    private static PoolRef poolRef(Context ctx) {
        return new PoolRef(tenantId(ctx), PoolName.of(ctx.pathParam("pool")));
    }

    private static InstanceId instanceId(Context ctx) {
        return InstanceId.of(ctx.pathParam("id"));
    }

    /** If-Match: absent means "any version"; otherwise one quoted (or bare) version number. */
    static ExpectedVersion ifMatch(Context ctx) {
        String header = ctx.header("If-Match");
        if (header == null || header.isBlank() || header.strip().equals("*")) {
            return ExpectedVersion.ANY;
        }
        String v = header.strip();
        if (v.startsWith("W/")) {
            v = v.substring(2);
        }
        if (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"")) {
            v = v.substring(1, v.length() - 1);
        }
        try {
            return new ExpectedVersion.Exactly(Long.parseLong(v));
        } catch (NumberFormatException e) {
            throw MvmException.invalid("invalid If-Match header '" + header + "': expected a version such as \"3\"");
        }
    }

    private static void etag(Context ctx, long version) {
        ctx.header("ETag", "\"" + version + "\"");
    }

    private static boolean booleanQuery(Context ctx, String name) {
        String v = ctx.queryParam(name);
        if (v == null) {
            return false;
        }
        return switch (v) {
            case "true", "1", "" -> true;
            case "false", "0" -> false;
            default -> throw MvmException.invalid("query parameter '" + name + "' must be true or false, got '" + v + "'");
        };
    }

    static long longQuery(Context ctx, String name, long fallback) {
        String v = ctx.queryParam(name);
        if (v == null) {
            return fallback;
        }
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw MvmException.invalid("query parameter '" + name + "' must be an integer, got '" + v + "'");
        }
    }

    static <T> T required(T value, String field) {
        if (value == null) {
            throw MvmException.invalid("field '" + field + "' is required");
        }
        return value;
    }

    private static List<String> orEmpty(List<String> value) {
        return value == null ? List.of() : noNulls(value);
    }

    private static Map<String, String> orEmpty(Map<String, String> value) {
        return value == null ? Map.of() : noNulls(value);
    }

    /** JSON allows null inside arrays and objects; these fields do not. */
    static List<String> noNulls(List<String> list) {
        if (list.stream().anyMatch(java.util.Objects::isNull)) {
            throw MvmException.invalid("lists of strings must not contain null");
        }
        return list;
    }

    static Map<String, String> noNulls(Map<String, String> map) {
        map.forEach((k, v) -> {
            if (k == null || v == null) {
                throw MvmException.invalid("field '" + k + "' must be a string, not null");
            }
        });
        return map;
    }

    private static int orZero(Integer value) {
        return value == null ? 0 : value;
    }

    private void json(Context ctx, int status, Object body) {
        try {
            ctx.status(status).contentType(JSON).result(mapper.writeValueAsBytes(body));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void problem(Context ctx, MvmException e) {
        int status = Problems.status(e);
        if (e instanceof RateLimitedException limited) {
            ctx.header("Retry-After", Long.toString(limited.retryAfterSeconds()));
        }
        if (status >= 500) {
            log.warn("{} {} failed: {}", ctx.method(), ctx.path(), e.toString(), e.getCause());
        }
        writeProblem(ctx, status, Problems.body(e, status, ctx.path()));
    }

    private void writeProblem(Context ctx, int status, Map<String, Object> body) {
        try {
            ctx.status(status).contentType(Problems.CONTENT_TYPE).result(mapper.writeValueAsBytes(body));
        } catch (JsonProcessingException e) {
            ctx.status(500).result("internal error");
        }
    }

    private static boolean isProblem(Context ctx) {
        String type = ctx.res().getContentType();
        return type != null && type.startsWith(Problems.CONTENT_TYPE);
    }

    private static byte[] loadOpenApi() {
        try (InputStream in = ApiServer.class.getResourceAsStream("/openapi.json")) {
            if (in == null) {
                throw new IllegalStateException("openapi.json missing from the coordinator jar");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
