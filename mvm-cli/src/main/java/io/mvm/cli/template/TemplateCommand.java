package io.mvm.cli.template;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.client.ClientOptions;
import io.mvm.cli.client.CoordinatorClient;
import io.mvm.core.template.ArtifactFile;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.Map;
import io.mvm.core.template.TemplateConfig;
import io.mvm.core.template.TemplateId;
import io.mvm.core.template.TemplateRevision;
import io.mvm.model.MvmException;
import io.mvm.model.Role;
import io.mvm.runtime.template.BuildOutcome;
import io.mvm.runtime.template.TemplateBuilds;
import io.mvm.runtime.template.TemplateFiles;
import io.mvm.runtime.template.TemplateRevisionJson;
import io.mvm.runtime.template.TemplateSnapshots;
import io.mvm.runtime.template.TemplateStore;
import io.mvm.runtime.template.oci.UnpackLimits;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code mvm template ...}: the coordinator's registry ({@code /v1/templates}) by default; with
 * {@code --on-host}, this host's own template store ({@code <data>/templates}) and no coordinator.
 * {@code build NAME --on-host} builds a registered template here and uploads the revision.
 */
@Command(name = "template", mixinStandardHelpOptions = true,
        description = "Create, build and inspect guest templates (in the coordinator; --on-host: this host's store).",
        subcommands = {TemplateCommand.Create.class, TemplateCommand.Build.class, TemplateCommand.ListTemplates.class,
            TemplateCommand.Info.class, TemplateCommand.Revisions.class, TemplateCommand.Delete.class})
public final class TemplateCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static String shortOrDash(JsonNode text) {
        return text == null || text.isNull() ? "-" : shortHash(text.asText());
    }

    static String shortHash(String hash) {
        return hash.length() > 12 ? hash.substring(0, 12) : hash;
    }

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Register a template file's variants in the coordinator (one template per variant).")
    static final class Create implements Callable<Integer> {
        @Mixin ClientOptions client;
        @Parameters(index = "0", paramLabel = "FILE", description = "The template's TOML file.") Path file;

        @Override
        public Integer call() throws Exception {
            TemplateFiles.readConfig(file); // the same rules as the coordinator's, before anything is sent
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("config", Files.readString(file));
            body.put("config_dir", file.toAbsolutePath().getParent().toString());
            body.put("file_name", file.getFileName().toString());
            JsonNode created = client.client().post("v1/templates", body);
            if (client.json) {
                ClientOptions.printJson(new PrintWriter(System.out, true), created);
                return 0;
            }
            for (JsonNode t : created.get("items")) {
                System.out.println("template " + t.get("name").asText() + " created (role " + t.get("role").asText()
                        + ", " + t.get("source_kind").asText() + "); build it with: mvm template build "
                        + t.get("name").asText() + " --on-host");
            }
            return 0;
        }
    }

    @Command(name = "build", mixinStandardHelpOptions = true,
            description = {"Build a template into a revision; the same inputs reuse their revision.",
                "FILE: build the file's variants into this host's store only.",
                "NAME: build the registered template here and upload its revision to the coordinator."})
    static final class Build implements Callable<Integer> {
        @Mixin ClientOptions client;
        @Parameters(index = "0", paramLabel = "FILE|NAME", description = "A template file, or a template's name in the coordinator.") String target;
        @Option(names = "--role", paramLabel = "ROLE", description = "Build only this role's variant (FILE only).") String role;
        @Option(names = "--force", description = "Build even when an intact revision with the same cache key exists.") boolean force;
        @Option(names = "--on-host", description = "Build on this host, as root (for trusted sources only).") boolean onHost;
        @Option(names = "--snapshot", description = "FILE only: then boot each variant's revision, wait for its guest agent (and the file's "
                + "[snapshot] readiness command), drain it and save a golden snapshot beside the revision, which "
                + "'mvm vm run --template' and pools then clone. An intact snapshot is kept unless --force.") boolean snapshot;
        @Option(names = "--source-dir", paramLabel = "DIR",
                description = "Where the template file's relative paths resolve (NAME; default: the directory it was created from).")
        Path sourceDir;

        @Override
        public Integer call() throws Exception {
            Path file = Path.of(target);
            boolean local = Files.isRegularFile(file);
            if (!local && (target.endsWith(".toml") || target.contains("/"))) {
                throw MvmException.notFound("no template file " + target + " (a template in the coordinator is named"
                        + " like web-worker: mvm template list)");
            }
            if (local) {
                TemplateFiles.readConfig(file);
            }
            if (snapshot && !local) {
                throw MvmException.invalid("--snapshot is for building a template FILE on this host; a registered "
                        + "template's snapshot is not uploaded to the coordinator yet");
            }
            if (!onHost) {
                // Builds run code the template's author chose; a builder microVM to contain them is not built yet.
                throw MvmException.precondition("building in a builder microVM is not implemented yet; "
                        + "pass --on-host to build on this host (only for sources you trust)");
            }
            return local ? buildFile(file) : buildAndUpload(target);
        }

        private Integer buildFile(Path file) {
            TemplateConfig config = TemplateFiles.readConfig(file);
            Optional<Role> only = Optional.ofNullable(role).map(Role::parse);
            TemplateBuilds builds = new TemplateBuilds(client.dataDir(), InstantSource.system(), UnpackLimits.DEFAULT);
            Path configDir = file.toAbsolutePath().getParent();
            for (BuildOutcome outcome : builds.build(config, configDir, only, force, message -> System.err.println("mvm: " + message))) {
                print(outcome, "");
                if (snapshot) {
                    snapshot(builds.store(), outcome, config);
                }
            }
            return 0;
        }

        private void snapshot(TemplateStore store, BuildOutcome outcome, TemplateConfig config) {
            TemplateId id = new TemplateId(outcome.revision().templateId());
            Path dir = client.dataDir();
            var image = TemplateStore.imageOf(outcome.revision(), outcome.directory());
            var vms = io.mvm.cli.vm.LocalRuntime.open(dir, Optional.of(image));
            var snapshots = new TemplateSnapshots(store, vms, InstantSource.system(), new java.security.SecureRandom());
            TemplateSnapshots.Saved saved = snapshots.snapshotCurrent(id, config.snapshot(), force,
                    message -> System.err.println("mvm: " + message));
            var info = saved.revision().snapshot().orElseThrow();
            System.out.println("template " + id + " revision " + shortHash(saved.revision().revisionHash()) + " golden snapshot "
                    + (saved.reused() ? "kept" : "saved") + ": " + saved.golden().dir() + " (vmstate " + info.vmstateSizeBytes()
                    + " bytes, RAM " + (info.memSizeBytes() >> 20) + " MiB, " + info.vcpus() + " vCPU, QEMU " + info.backendVersion()
                    + ", " + info.accelerator() + ")");
        }

        /** Builds a registered template on this host, then uploads its artifacts by digest and registers the revision. */
        private Integer buildAndUpload(String name) throws Exception {
            new TemplateId(name);
            CoordinatorClient api = client.client();
            JsonNode t = api.get("v1/templates/" + name);
            Path dir = sourceDir != null ? sourceDir.toAbsolutePath()
                    : t.hasNonNull("config_dir") ? Path.of(t.get("config_dir").asText()) : null;
            if (dir == null) {
                throw MvmException.invalid("template " + name + " has no source directory on record; pass --source-dir DIR");
            }
            TemplateConfig config = TemplateFiles.parseConfig(name + " (from the coordinator)", t.get("config").asText());
            Role variantRole = Role.parse(t.get("role").asText());
            TemplateBuilds builds = new TemplateBuilds(client.dataDir(), InstantSource.system(), UnpackLimits.DEFAULT);
            TemplateStore store = new TemplateStore(client.dataDir(), InstantSource.system());
            for (BuildOutcome outcome : builds.build(config, dir, Optional.of(variantRole), force,
                    message -> System.err.println("mvm: " + message))) {
                TemplateRevision r = outcome.revision();
                if (!r.templateId().equals(name)) {
                    continue;
                }
                Path revisionDir = store.revisionDir(new TemplateId(name), r.revisionHash());
                for (ArtifactFile a : r.artifacts()) {
                    String digest = a.sha256().orElseThrow(() -> MvmException.precondition(
                            "artifact " + a.path() + " of revision " + r.revisionHash() + " has no recorded sha256"));
                    System.err.println("mvm: uploading " + a.role() + " " + a.path() + " (" + a.size().orElse(0) + " bytes, sha256:"
                            + shortHash(digest) + ")");
                    api.putFile("v1/artifacts/sha256:" + digest, revisionDir.resolve(a.path()));
                }
                JsonNode registered = api.postJson("v1/templates/" + name + "/revisions",
                        Files.readAllBytes(revisionDir.resolve("revision.json")));
                print(outcome, "; uploaded and current in the coordinator");
                if (client.json) {
                    ClientOptions.printJson(new PrintWriter(System.out, true), registered);
                }
            }
            return 0;
        }

        private static void print(BuildOutcome outcome, String suffix) {
            TemplateRevision r = outcome.revision();
            String how = switch (outcome) {
                case BuildOutcome.Built built -> "built";
                case BuildOutcome.Reused reused -> "reused (cache hit)";
            };
            System.out.println("template " + r.templateId() + " revision " + shortHash(r.revisionHash()) + " " + how
                    + ": " + r.source().kind() + " " + r.source().lockHash() + ", role " + r.role() + ", profile "
                    + r.profile() + suffix);
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Templates and their current revision (--on-host: this host's store).")
    static final class ListTemplates implements Callable<Integer> {
        @Mixin ClientOptions client;
        @Mixin io.mvm.cli.client.ListOptions listing;
        @Option(names = "--on-host", description = "List this host's own template store instead of the coordinator's.") boolean onHost;

        @Override
        public Integer call() {
            if (!onHost) {
                JsonNode all = client.client().list("v1/templates", listing.cap());
                if (client.json) {
                    ClientOptions.printJson(new PrintWriter(System.out, true), all);
                    return 0;
                }
                System.out.printf("%-32s %-10s %-14s %-14s %s%n", "NAME", "ROLE", "CURRENT", "PREVIOUS", "SOURCE");
                for (JsonNode t : all.get("items")) {
                    System.out.printf("%-32s %-10s %-14s %-14s %s%n", t.get("name").asText(), t.get("role").asText(),
                            shortOrDash(t.get("current_revision")), shortOrDash(t.get("previous_revision")),
                            t.get("source_kind").asText());
                }
                return 0;
            }
            TemplateStore store = new TemplateStore(client.dataDir(), InstantSource.system());
            System.out.printf("%-32s %-10s %-14s %-6s %-8s %s%n", "NAME", "ROLE", "CURRENT", "SOURCE", "SNAPSHOT", "BUILT");
            for (TemplateId id : store.templates()) {
                Optional<TemplateRevision> current = store.current(id);
                System.out.printf("%-32s %-10s %-14s %-6s %-8s %s%n", id, current.map(r -> r.role().wireName()).orElse("-"),
                        current.map(r -> shortHash(r.revisionHash())).orElse("-"), current.map(r -> r.source().kind()).orElse("-"),
                        current.flatMap(TemplateRevision::snapshot).map(sn -> "yes").orElse("-"),
                        current.map(r -> r.builtAt().toString()).orElse("-"));
            }
            return 0;
        }
    }

    @Command(name = "info", mixinStandardHelpOptions = true,
            description = "A template as the coordinator holds it, as JSON (--on-host: this host's current revision).")
    static final class Info implements Callable<Integer> {
        @Mixin ClientOptions client;
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Option(names = "--on-host", description = "Read this host's own template store instead of the coordinator's.") boolean onHost;

        @Override
        public Integer call() {
            if (!onHost) {
                new TemplateId(name);
                ClientOptions.printJson(new PrintWriter(System.out, true), client.client().get("v1/templates/" + name));
                return 0;
            }
            TemplateStore store = new TemplateStore(client.dataDir(), InstantSource.system());
            TemplateRevision current = store.current(new TemplateId(name))
                    .orElseThrow(() -> MvmException.notFound("template " + name + " has no intact built revision"));
            System.out.println(new String(TemplateRevisionJson.write(current), StandardCharsets.UTF_8));
            return 0;
        }
    }

    @Command(name = "revisions", mixinStandardHelpOptions = true, description = "A template's revisions, oldest first; * marks the current one.")
    static final class Revisions implements Callable<Integer> {
        @Mixin ClientOptions client;
        @Mixin io.mvm.cli.client.ListOptions listing;
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Option(names = "--on-host", description = "Read this host's own template store instead of the coordinator's.") boolean onHost;

        @Override
        public Integer call() throws Exception {
            boolean json = client.json;
            if (!onHost) {
                new TemplateId(name);
                JsonNode all = client.client().list("v1/templates/" + name + "/revisions", listing.cap());
                if (json) {
                    ClientOptions.printJson(new PrintWriter(System.out, true), all);
                    return 0;
                }
                System.out.printf("  %-14s %-24s %-24s %s%n", "REVISION", "BUILT", "REGISTERED BY", "ARTIFACTS");
                for (JsonNode r : all.get("items")) {
                    long bytes = 0;
                    for (JsonNode a : r.get("artifacts")) {
                        bytes += a.get("size").asLong();
                    }
                    System.out.printf("%s %-14s %-24s %-24s %d files, %d bytes%n", r.get("current").asBoolean() ? "*"
                                    : r.get("previous").asBoolean() ? "-" : " ", shortHash(r.get("revision_hash").asText()),
                            r.get("built_at").asText(), r.get("registered_by").asText(), r.get("artifacts").size(), bytes);
                }
                return 0;
            }
            TemplateStore store = new TemplateStore(client.dataDir(), InstantSource.system());
            TemplateId id = new TemplateId(name);
            List<TemplateRevision> revisions = store.revisions(id);
            if (revisions.isEmpty()) {
                throw MvmException.notFound("template " + name + " has no revisions on this host");
            }
            Optional<String> current = store.current(id).map(TemplateRevision::revisionHash);
            if (json) {
                ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                List<Object> trees = new java.util.ArrayList<>();
                for (TemplateRevision r : revisions) {
                    trees.add(mapper.readTree(TemplateRevisionJson.write(r)));
                }
                System.out.println(mapper.writeValueAsString(trees));
                return 0;
            }
            System.out.printf("  %-14s %-6s %-24s %s%n", "REVISION", "SOURCE", "BUILT", "LOCK");
            for (TemplateRevision r : revisions) {
                System.out.printf("%s %-14s %-6s %-24s %s%n", current.filter(r.revisionHash()::equals).isPresent() ? "*" : " ",
                        shortHash(r.revisionHash()), r.source().kind(), r.builtAt(), r.source().lockHash());
            }
            return 0;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true,
            description = {"Remove a template and all its revisions from the coordinator; refused while a pool uses it.",
                "--on-host: from this host's store; refused while a VM here boots from it."})
    static final class Delete implements Callable<Integer> {
        @Mixin ClientOptions client;
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Option(names = "--force", description = "Delete even while pools (or, --on-host, VMs) use it (running VMs, clones"
                + " included, keep their open files and mapped snapshot RAM until they end).")
        boolean force;
        @Option(names = "--on-host", description = "Delete from this host's own template store.") boolean onHost;

        @Override
        public Integer call() throws Exception {
            if (!onHost) {
                new TemplateId(name);
                client.client().delete("v1/templates/" + name + (force ? "?force=true" : ""));
                System.out.println("template " + name + " deleted");
                return 0;
            }
            Path dir = client.dataDir();
            TemplateStore store = new TemplateStore(dir, InstantSource.system());
            TemplateId id = new TemplateId(name);
            List<String> users = vmsUsing(dir, store.templateDir(id));
            List<Long> mappers = snapshotMappers(store.templateDir(id));
            if ((!users.isEmpty() || !mappers.isEmpty()) && !force) {
                throw MvmException.conflict("template " + name + " is used by " + (users.isEmpty() ? "" : "VM(s) " + String.join(", ", users))
                        + (users.isEmpty() || mappers.isEmpty() ? "" : " and ")
                        + (mappers.isEmpty() ? "" : "running clone(s) mapping its golden snapshot's RAM (pids " + mappers + ")")
                        + "; destroy them first or pass --force");
            }
            store.delete(id);
            System.out.println("template " + name + " deleted" + (mappers.isEmpty() ? ""
                    : "; " + mappers.size() + " running clone(s) keep its snapshot's RAM until they end"));
            return 0;
        }

        /** Processes mapping the RAM file of any revision's golden snapshot (clones, whichever data dir they live in). */
        private static List<Long> snapshotMappers(Path templateDir) throws java.io.IOException {
            Path artifacts = templateDir.resolve("artifacts");
            if (!java.nio.file.Files.isDirectory(artifacts)) {
                return List.of();
            }
            List<Long> pids = new java.util.ArrayList<>();
            try (java.util.stream.Stream<Path> dirs = java.nio.file.Files.list(artifacts)) {
                for (Path revision : dirs.toList()) {
                    Path snapshot = revision.resolve(io.mvm.core.template.SnapshotInfo.DIRECTORY);
                    if (java.nio.file.Files.isDirectory(snapshot)) {
                        pids.addAll(io.mvm.runtime.snapshot.GoldenSnapshotDeletion.mappers(snapshot));
                    }
                }
            }
            return pids.stream().distinct().sorted().toList();
        }

        /** VMs on this host whose definition boots from a file under the template's directory. */
        private static List<String> vmsUsing(Path dataDir, Path templateDir) throws java.io.IOException {
            Path vms = dataDir.resolve("vms");
            if (!java.nio.file.Files.isDirectory(vms)) {
                return List.of();
            }
            try (java.util.stream.Stream<Path> dirs = java.nio.file.Files.list(vms)) {
                return dirs.filter(java.nio.file.Files::isDirectory)
                        .filter(d -> new io.mvm.runtime.vm.VmDirectory(d).definition()
                                .map(def -> def.image().rootfs().toAbsolutePath().startsWith(templateDir)).orElse(false))
                        .map(d -> d.getFileName().toString()).sorted().toList();
            }
        }
    }
}
