package io.mvm.coordinator.http;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import io.javalin.http.Context;
import io.mvm.coordinator.auth.Access;
import io.mvm.coordinator.http.GuardedRoutes.Scope;
import io.mvm.coordinator.template.ArtifactStore;
import io.mvm.coordinator.template.RevisionUpload;
import io.mvm.coordinator.template.TemplateService;
import io.mvm.core.template.TemplateConfig;
import io.mvm.core.template.TemplateConfigReader;
import io.mvm.model.MvmException;
import io.mvm.store.template.StoredArtifact;
import io.mvm.store.template.StoredRevision;
import io.mvm.store.template.StoredTemplate;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code /v1/templates} (the registry) and {@code /v1/artifacts} (content-addressed files). Parses
 * the template TOML and revision records here, at the edge; the rules are in {@link TemplateService}.
 */
final class TemplatesRoutes {
    private static final TomlMapper TOML = new TomlMapper();
    private static final Pattern RANGE = Pattern.compile("bytes=(\\d{1,19})-(\\d{0,19})");
    /** A template file is at most 1 MiB (as on a build host); a revision record far less. */
    private static final int BODY_LIMIT = (1 << 20) + 64 * 1024;

    private final TemplateService templates;
    private final RequestBodies bodies;
    private final ObjectMapper mapper = ApiJson.mapper();
    private final VmsRoutes.JsonWriter json;

    TemplatesRoutes(TemplateService templates, VmsRoutes.JsonWriter json) {
        this.templates = templates;
        this.bodies = new RequestBodies(ApiJson.mapper(), BODY_LIMIT);
        this.json = json;
    }

    record CreateTemplate(String config, String configDir, String fileName) {}

    record SetCurrent(String revision) {}

    record TemplateView(String name, String templateId, String role, String profile, int vcpus, long memMib,
                        long dataDiskMib, String sourceKind, String currentRevision, String previousRevision,
                        long version, Instant createdAt, Instant updatedAt, String configDir, String config) {}

    record ArtifactView(String role, String path, long size, String sha256) {}

    record RevisionView(String template, String revisionHash, boolean current, boolean previous, Instant builtAt,
                        Instant registeredAt, String registeredBy, List<ArtifactView> artifacts, JsonNode record) {}

    record StoredView(String digest, long size) {}

    void register(GuardedRoutes g) {
        g.post("/v1/templates", Access.ADMIN, Scope.NONE, this::create);
        g.get("/v1/templates", Access.CATALOG_READ, Scope.NONE, ctx -> {
            Paging.Request req = Paging.request(ctx);
            json.write(ctx, 200, Paging.listOf(ctx, Paging.slice(templates.list(), req, StoredTemplate::name),
                    t -> view(t, false)));
        });
        g.get("/v1/templates/{template}", Access.CATALOG_READ, Scope.NONE, ctx -> {
            StoredTemplate t = templates.get(ctx.pathParam("template"));
            ctx.header("ETag", "\"" + t.version() + "\"");
            json.write(ctx, 200, view(t, true));
        });
        g.delete("/v1/templates/{template}", Access.ADMIN, Scope.NONE, ctx -> {
            templates.delete(ApiServer.caller(ctx), ctx.pathParam("template"), "true".equals(ctx.queryParam("force")));
            ctx.status(204);
        });
        g.get("/v1/templates/{template}/revisions", Access.CATALOG_READ, Scope.NONE, ctx -> {
            StoredTemplate t = templates.get(ctx.pathParam("template"));
            Paging.Request req = Paging.request(ctx);
            // In build order (the key leads with the times), as the list always was.
            json.write(ctx, 200, Paging.listOf(ctx, Paging.slice(templates.revisions(t.name()), req,
                    r -> "%015d/%015d/%s".formatted(r.builtAt().toEpochMilli(), r.registeredAt().toEpochMilli(),
                            r.revisionHash())),
                    r -> view(t, r)));
        });
        g.post("/v1/templates/{template}/revisions", Access.ADMIN, Scope.NONE, this::registerRevision);
        g.get("/v1/templates/{template}/revisions/{revision}", Access.CATALOG_READ, Scope.NONE, ctx -> {
            StoredTemplate t = templates.get(ctx.pathParam("template"));
            json.write(ctx, 200, view(t, templates.revision(t.name(), ctx.pathParam("revision"))));
        });
        g.post("/v1/templates/{template}/current", Access.ADMIN, Scope.NONE, ctx -> {
            SetCurrent req = bodies.read(ctx, SetCurrent.class);
            if (req.revision() == null) {
                throw MvmException.invalid("field 'revision' is required");
            }
            StoredTemplate t = templates.setCurrent(ApiServer.caller(ctx), ctx.pathParam("template"), req.revision(),
                    ApiServer.ifMatch(ctx));
            ctx.header("ETag", "\"" + t.version() + "\"");
            json.write(ctx, 200, view(t, false));
        });
        g.put("/v1/artifacts/{digest}", Access.ADMIN, Scope.NONE, ctx -> {
            String hex = ArtifactStore.hexOf(ctx.pathParam("digest"));
            long size;
            try (InputStream in = ctx.req().getInputStream()) {
                size = templates.putArtifact(ApiServer.caller(ctx), hex, in);
            }
            json.write(ctx, 201, new StoredView("sha256:" + hex, size));
        });
        g.get("/v1/artifacts/{digest}", Access.ANY_NODE_OR_ADMIN, Scope.NONE, this::download);
    }

    private void create(Context ctx) {
        CreateTemplate req = bodies.read(ctx, CreateTemplate.class);
        if (req.config() == null || req.config().isBlank()) {
            throw MvmException.invalid("field 'config' (the template file's TOML text) is required");
        }
        String source = req.fileName() == null || req.fileName().isBlank() ? "template" : req.fileName();
        Optional<String> dir = Optional.ofNullable(req.configDir()).filter(d -> !d.isBlank());
        dir.ifPresent(d -> {
            if (!d.startsWith("/") || d.chars().anyMatch(Character::isISOControl) || d.length() > 4096) {
                throw MvmException.invalid("config_dir must be an absolute path, got '" + d + "'");
            }
        });
        TemplateConfig config = parse(source, req.config());
        List<StoredTemplate> created = templates.create(ApiServer.caller(ctx), config, req.config(), dir);
        json.write(ctx, 201, new Views.ListOf<>(created.stream().map(t -> view(t, false)).toList()));
    }

    /** The TOML syntax here, every other rule in mvm-core's reader; errors name their lines (422). */
    static TemplateConfig parse(String sourceName, String text) {
        Map<String, Object> document;
        try {
            document = TOML.readValue(text, new TypeReference<>() {});
        } catch (JsonProcessingException e) {
            JsonLocation where = e.getLocation();
            int line = where == null ? 1 : where.getLineNr();
            throw TemplateConfigReader.syntaxError(sourceName, line, "TOML syntax: "
                    + e.getOriginalMessage().lines().findFirst().orElse("invalid"));
        }
        return TemplateConfigReader.read(sourceName, text, document == null ? Map.of() : document);
    }

    private void registerRevision(Context ctx) {
        JsonNode record = bodies.read(ctx, JsonNode.class);
        if (!record.isObject()) {
            throw MvmException.invalid("request body must be the revision record (revision.json) as a JSON object");
        }
        int schema = record.path("schema_version").asInt(1);
        int newest = io.mvm.core.template.TemplateRevision.CURRENT_SCHEMA_VERSION;
        if (schema < 2 || schema > newest) {
            throw MvmException.invalid("revision records of schema_version 2-" + newest + " are registered (with"
                    + " artifact sizes and digests), got " + schema);
        }
        // A golden snapshot stays on the host that took it: its files are not uploaded, so nodes
        // fetching this revision must not be told it has one.
        ((com.fasterxml.jackson.databind.node.ObjectNode) record).remove("snapshot");
        List<StoredArtifact> files = new ArrayList<>();
        for (JsonNode a : record.path("artifacts")) {
            files.add(new StoredArtifact(text(a, "role"), text(a, "path"), a.path("size").asLong(-1),
                    ArtifactStore.hexOf(text(a, "sha256"))));
        }
        Instant builtAt;
        try {
            builtAt = Instant.parse(text(record, "built_at"));
        } catch (DateTimeParseException e) {
            throw MvmException.invalid("built_at must be an RFC 3339 time");
        }
        String recordText;
        try {
            recordText = mapper.writeValueAsString(record);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
        RevisionUpload upload = new RevisionUpload(text(record, "revision_hash"), text(record, "template_id"),
                text(record, "role"), builtAt, files, recordText);
        StoredTemplate t = templates.registerRevision(ApiServer.caller(ctx), ctx.pathParam("template"), upload);
        json.write(ctx, 201, view(t, templates.revision(t.name(), upload.revisionHash())));
    }

    private static String text(JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || !v.isTextual()) {
            throw MvmException.invalid("field '" + field + "' (a string) is required in the revision record");
        }
        return v.asText();
    }

    /** Streams an artifact; {@code Range: bytes=N-[M]} resumes a partial download (206). */
    private void download(Context ctx) throws IOException {
        String hex = ArtifactStore.hexOf(ctx.pathParam("digest"));
        Path file = templates.artifacts().path(hex);
        long size = templates.artifacts().size(hex).orElseThrow(() -> MvmException.notFound(
                "no artifact sha256:" + hex + " on this coordinator"));
        long from = 0;
        long to = size - 1;
        String range = ctx.header("Range");
        if (range != null) {
            Matcher m = RANGE.matcher(range.strip());
            if (!m.matches()) {
                throw MvmException.invalid("only one 'bytes=FROM-[TO]' range is supported, got '" + range + "'");
            }
            from = Long.parseLong(m.group(1));
            if (!m.group(2).isEmpty()) {
                to = Math.min(to, Long.parseLong(m.group(2)));
            }
            if (from >= size || from > to) {
                ctx.header("Content-Range", "bytes */" + size);
                ctx.status(416);
                return;
            }
            ctx.status(206);
            ctx.header("Content-Range", "bytes " + from + "-" + to + "/" + size);
        } else {
            ctx.status(200);
        }
        long length = to - from + 1;
        ctx.header("Accept-Ranges", "bytes");
        ctx.header("Digest", "sha-256=" + java.util.Base64.getEncoder().encodeToString(java.util.HexFormat.of().parseHex(hex)));
        ctx.header("ETag", "\"sha256:" + hex + "\"");
        ctx.contentType("application/octet-stream");
        ctx.res().setContentLengthLong(length);
        try (InputStream in = Files.newInputStream(file); OutputStream out = ctx.res().getOutputStream()) {
            in.skipNBytes(from);
            byte[] buf = new byte[1 << 16];
            long left = length;
            while (left > 0) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                if (n < 0) {
                    break;
                }
                out.write(buf, 0, n);
                left -= n;
            }
        }
    }

    static TemplateView view(StoredTemplate t, boolean withConfig) {
        return new TemplateView(t.name(), t.templateId(), t.role(), t.profile(), t.vcpus(), t.memMib(), t.dataDiskMib(),
                t.sourceKind(), t.currentRevision().orElse(null), t.previousRevision().orElse(null), t.version(),
                t.createdAt(), t.updatedAt(), t.configDir().orElse(null), withConfig ? t.config() : null);
    }

    private RevisionView view(StoredTemplate t, StoredRevision r) {
        JsonNode record;
        try {
            record = mapper.readTree(r.record());
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
        return new RevisionView(t.name(), r.revisionHash(), t.currentRevision().equals(Optional.of(r.revisionHash())),
                t.previousRevision().equals(Optional.of(r.revisionHash())), r.builtAt(), r.registeredAt(),
                r.registeredBy(), r.artifacts().stream().map(a -> new ArtifactView(a.role(), a.path(), a.size(),
                        a.sha256())).toList(), record);
    }
}
