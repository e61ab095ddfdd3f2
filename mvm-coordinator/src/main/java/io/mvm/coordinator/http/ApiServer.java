package io.mvm.coordinator.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.Javalin;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.router.Endpoint;
import io.mvm.coordinator.ExpectedVersion;
import io.mvm.coordinator.audit.AuditTrail;
import io.mvm.coordinator.auth.Caller;
import io.mvm.coordinator.auth.TokenAuthenticator;
import io.mvm.coordinator.instance.InstanceService;
import io.mvm.coordinator.node.NodeService;
import io.mvm.coordinator.pool.PoolPatch;
import io.mvm.coordinator.pool.PoolService;
import io.mvm.coordinator.pool.PoolSpec;
import io.mvm.coordinator.tenant.TenantService;
import io.mvm.core.lifecycle.InstanceAction;
import io.mvm.core.pool.TargetCounts;
import io.mvm.core.pool.TenantQuota;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.PoolName;
import io.mvm.model.PoolRef;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import io.mvm.store.audit.AuditEntry;
import io.mvm.store.instance.Instance;
import io.mvm.store.pool.Pool;
import io.mvm.store.tenant.Tenant;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
    private static final String JSON = "application/json";

    private final ObjectMapper mapper = ApiJson.mapper();
    private final RequestBodies bodies;
    private final TokenAuthenticator auth;
    private final TenantService tenants;
    private final PoolService pools;
    private final InstanceService instances;
    private final NodeService nodes;
    private final AuditTrail audit;
    private final HttpMetrics metrics = new HttpMetrics();
    private final byte[] openApi;
    private final int bodyLimitBytes;
    private Javalin app;

    /** Counts for the gauges; read from the database at scrape time. */
    public record Gauges(LongSupplier tenants, LongSupplier pools, LongSupplier instances) {}

    public ApiServer(TokenAuthenticator auth, TenantService tenants, PoolService pools, InstanceService instances,
                     NodeService nodes, AuditTrail audit, Gauges gauges, int bodyLimitBytes) {
        this.auth = auth;
        this.tenants = tenants;
        this.pools = pools;
        this.instances = instances;
        this.nodes = nodes;
        this.audit = audit;
        this.bodyLimitBytes = bodyLimitBytes;
        this.bodies = new RequestBodies(mapper, bodyLimitBytes);
        this.openApi = loadOpenApi();
        metrics.gauge("mvm_tenants", "Tenants known to the coordinator", gauges.tenants());
        metrics.gauge("mvm_pools", "Pools known to the coordinator", gauges.pools());
        metrics.gauge("mvm_instances", "Instance records known to the coordinator", gauges.instances());
    }

    public int start(String host, int port) {
        app = Javalin.create(config -> {
            config.startup.showJavalinBanner = false;
            config.startup.showOldJavalinVersionWarning = false;
            config.concurrency.useVirtualThreads = true;
            config.http.maxRequestSize = bodyLimitBytes;
            config.router.ignoreTrailingSlashes = true;
            routes(config.routes);
        });
        app.start(host, port);
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

        r.get("/healthz", ctx -> json(ctx, 200, new Views.Health("ok")));
        r.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape()));
        r.get("/openapi.json", ctx -> ctx.contentType(JSON).result(openApi));
        r.get("/v1/nodes", ctx -> json(ctx, 200, new Views.ListOf<>(nodes.list().stream().map(Views::node).toList())));

        r.post("/v1/tenants", this::createTenant);
        r.get("/v1/tenants", ctx -> json(ctx, 200, new Views.ListOf<>(tenants.list().stream()
                .map(t -> Views.tenant(t, tenants.pools(t.id()))).toList())));
        r.get("/v1/tenants/{tenant}", ctx -> {
            Tenant t = tenants.get(tenantId(ctx));
            etag(ctx, t.version());
            json(ctx, 200, Views.tenant(t, tenants.pools(t.id())));
        });
        r.delete("/v1/tenants/{tenant}", ctx -> {
            tenants.delete(caller(ctx), tenantId(ctx), ifMatch(ctx), booleanQuery(ctx, "force"));
            ctx.status(204);
        });
        r.get("/v1/tenants/{tenant}/audit", this::auditPage);

        r.post("/v1/tenants/{tenant}/pools", this::createPool);
        r.get("/v1/tenants/{tenant}/pools", ctx -> json(ctx, 200,
                new Views.ListOf<>(tenants.pools(tenantId(ctx)).stream().map(Views::pool).toList())));
        r.get("/v1/tenants/{tenant}/pools/{pool}", ctx -> {
            Pool p = pools.get(poolRef(ctx));
            etag(ctx, p.version());
            json(ctx, 200, Views.pool(p));
        });
        r.patch("/v1/tenants/{tenant}/pools/{pool}", this::patchPool);
        r.delete("/v1/tenants/{tenant}/pools/{pool}", ctx -> {
            pools.delete(caller(ctx), poolRef(ctx), ifMatch(ctx));
            ctx.status(204);
        });

        r.get("/v1/tenants/{tenant}/instances", ctx -> {
            Optional<PoolName> pool = Optional.ofNullable(ctx.queryParam("pool")).map(PoolName::of);
            json(ctx, 200, new Views.ListOf<>(instances.list(tenantId(ctx), pool).stream().map(Views::instance).toList()));
        });
        r.get("/v1/instances/{id}", ctx -> {
            Instance i = instances.get(instanceId(ctx));
            etag(ctx, i.version());
            json(ctx, 200, Views.instance(i));
        });
        r.delete("/v1/instances/{id}", ctx -> {
            InstanceId id = instanceId(ctx);
            boolean deleted = instances.destroy(caller(ctx), id, ifMatch(ctx));
            if (deleted) {
                ctx.status(204);
            } else {
                json(ctx, 202, Views.instance(instances.get(id)));
            }
        });
        for (InstanceAction action : InstanceAction.values()) {
            r.post("/v1/instances/{id}/" + action.wireName(), ctx -> {
                Instance i = instances.act(caller(ctx), instanceId(ctx), action);
                etag(ctx, i.version());
                json(ctx, 200, Views.instance(i));
            });
        }
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
                new TargetCounts(orZero(req.running()), orZero(req.warm()), orZero(req.sleeping()), 0));
        Pool p = pools.create(caller(ctx), spec);
        etag(ctx, p.version());
        ctx.header("Location", "/v1/tenants/" + tenant + "/pools/" + ref.name());
        json(ctx, 201, Views.pool(p));
    }

    private void patchPool(Context ctx) {
        PoolRef ref = poolRef(ctx);
        Requests.PatchPool req = bodies.read(ctx, Requests.PatchPool.class);
        PoolPatch patch = new PoolPatch(Optional.ofNullable(req.running()), Optional.ofNullable(req.warm()),
                Optional.ofNullable(req.sleeping()), Optional.ofNullable(req.stopped()), Optional.ofNullable(req.vcpus()),
                Optional.ofNullable(req.memoryMib()), Optional.ofNullable(req.dataDiskMib()),
                Optional.ofNullable(req.template()), Optional.ofNullable(req.role()).map(Role::parse));
        Pool p = pools.patch(caller(ctx), ref, patch, ifMatch(ctx));
        etag(ctx, p.version());
        json(ctx, 200, Views.pool(p));
    }

    private void auditPage(Context ctx) {
        TenantId tenant = tenantId(ctx);
        long after = longQuery(ctx, "after", 0);
        int limit = (int) Math.min(longQuery(ctx, "limit", 100), Integer.MAX_VALUE);
        List<AuditEntry> page = audit.page(tenant, after, limit);
        if (page.isEmpty() && after == 0) {
            // A deleted tenant's trail stays readable; a name that never had one is unknown.
            tenants.get(tenant);
        }
        Long next = page.size() == limit ? page.getLast().seq() : null;
        json(ctx, 200, new Views.AuditPage(page.stream().map(Views::audit).toList(), next));
    }

    // ---- request plumbing ----

    private void beforeEach(Context ctx) {
        ctx.attribute(STARTED, System.nanoTime());
        if (ctx.path().equals("/healthz")) {
            return;
        }
        try {
            ctx.attribute("mvm.caller", auth.authenticate(ctx.header("Authorization")));
        } catch (MvmException e) {
            try {
                audit.denied(tenantInPath(ctx.path()), ctx.method().name() + " " + ctx.path(), e.getMessage());
            } catch (RuntimeException auditFailure) {
                log.warn("could not audit a refused request to {}: {}", ctx.path(), auditFailure.toString());
            }
            throw e;
        }
    }

    private void afterEach(Context ctx) {
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

    private static Caller caller(Context ctx) {
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

    private static long longQuery(Context ctx, String name, long fallback) {
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

    private static <T> T required(T value, String field) {
        if (value == null) {
            throw MvmException.invalid("field '" + field + "' is required");
        }
        return value;
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
