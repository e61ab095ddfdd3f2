package io.mvm.cli.template;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.mvm.cli.DataDirOption;
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
 * {@code mvm template ...} over this host's template store ({@code <data>/templates}). The
 * coordinator's {@code /v1/templates} is not here yet; these commands work without one.
 */
@Command(name = "template", mixinStandardHelpOptions = true,
        description = "Build and inspect guest templates on this host (no coordinator).",
        subcommands = {TemplateCommand.Build.class, TemplateCommand.ListTemplates.class, TemplateCommand.Info.class,
            TemplateCommand.Revisions.class, TemplateCommand.Delete.class})
public final class TemplateCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static String shortHash(String hash) {
        return hash.length() > 12 ? hash.substring(0, 12) : hash;
    }

    @Command(name = "build", mixinStandardHelpOptions = true,
            description = "Build a template file's variants into revisions; the same inputs reuse their revision.")
    static final class Build implements Callable<Integer> {
        @Mixin DataDirOption dataDir;
        @Parameters(index = "0", paramLabel = "FILE", description = "The template's TOML file.") Path file;
        @Option(names = "--role", paramLabel = "ROLE", description = "Build only this role's variant.") String role;
        @Option(names = "--force", description = "Build even when an intact revision with the same cache key exists.") boolean force;
        @Option(names = "--on-host", description = "Build on this host, as root (for trusted sources only).") boolean onHost;
        @Option(names = "--snapshot", description = "Then boot each variant's revision, wait for its guest agent (and the file's "
                + "[snapshot] readiness command), drain it and save a golden snapshot beside the revision, which "
                + "'mvm vm run --template' and pools then clone. An intact snapshot is kept unless --force.") boolean snapshot;

        private TemplateConfig config;

        @Override
        public Integer call() {
            config = TemplateFiles.readConfig(file);
            Optional<Role> only = Optional.ofNullable(role).map(Role::parse);
            if (!onHost) {
                // Builds run code the template's author chose; a builder microVM to contain them is not built yet.
                throw MvmException.precondition("building in a builder microVM is not implemented yet; "
                        + "pass --on-host to build on this host (only for sources you trust)");
            }
            TemplateBuilds builds = new TemplateBuilds(dataDir.resolve(), InstantSource.system(), UnpackLimits.DEFAULT);
            Path configDir = file.toAbsolutePath().getParent();
            for (BuildOutcome outcome : builds.build(config, configDir, only, force, message -> System.err.println("mvm: " + message))) {
                TemplateRevision r = outcome.revision();
                String how = switch (outcome) {
                    case BuildOutcome.Built built -> "built";
                    case BuildOutcome.Reused reused -> "reused (cache hit)";
                };
                System.out.println("template " + r.templateId() + " revision " + shortHash(r.revisionHash()) + " " + how
                        + ": " + r.source().kind() + " " + r.source().lockHash() + ", role " + r.role() + ", profile " + r.profile());
                if (snapshot) {
                    snapshot(builds.store(), outcome);
                }
            }
            return 0;
        }

        private void snapshot(TemplateStore store, BuildOutcome outcome) {
            TemplateId id = new TemplateId(outcome.revision().templateId());
            Path dir = dataDir.resolve();
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
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Templates on this host and their current revision.")
    static final class ListTemplates implements Callable<Integer> {
        @Mixin DataDirOption dataDir;

        @Override
        public Integer call() {
            TemplateStore store = new TemplateStore(dataDir.resolve(), InstantSource.system());
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

    @Command(name = "info", mixinStandardHelpOptions = true, description = "The current revision of a template, as JSON.")
    static final class Info implements Callable<Integer> {
        @Mixin DataDirOption dataDir;
        @Parameters(index = "0", paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            TemplateStore store = new TemplateStore(dataDir.resolve(), InstantSource.system());
            TemplateRevision current = store.current(new TemplateId(name))
                    .orElseThrow(() -> MvmException.notFound("template " + name + " has no intact built revision"));
            System.out.println(new String(TemplateRevisionJson.write(current), StandardCharsets.UTF_8));
            return 0;
        }
    }

    @Command(name = "revisions", mixinStandardHelpOptions = true, description = "A template's revisions, oldest first; * marks the current one.")
    static final class Revisions implements Callable<Integer> {
        @Mixin DataDirOption dataDir;
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Option(names = "--json", description = "Print JSON.") boolean json;

        @Override
        public Integer call() throws Exception {
            TemplateStore store = new TemplateStore(dataDir.resolve(), InstantSource.system());
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
            description = "Remove a template and all its revisions from this host; refused while a VM here boots from it"
                    + " or a running clone maps its golden snapshot's RAM.")
    static final class Delete implements Callable<Integer> {
        @Mixin DataDirOption dataDir;
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Option(names = "--force", description = "Delete even while VMs use it (running ones, clones included, keep their open files"
                + " and mapped snapshot RAM until they end; sleeping or stopped ones cannot wake or start).")
        boolean force;

        @Override
        public Integer call() throws Exception {
            Path dir = dataDir.resolve();
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
