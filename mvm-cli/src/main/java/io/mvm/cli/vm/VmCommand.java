package io.mvm.cli.vm;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.mvm.core.template.TemplateId;
import io.mvm.runtime.template.TemplateBoot;
import io.mvm.runtime.template.TemplateStart;
import io.mvm.runtime.template.TemplateStore;
import io.mvm.cli.DataDirOption;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.vm.LocalVms;
import io.mvm.runtime.vm.VmStatus;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code mvm vm ...}: microVMs on this host without a coordinator, for debugging and tests. */
@Command(name = "vm", mixinStandardHelpOptions = true,
        description = "Run and control microVMs on this host (no coordinator).",
        subcommands = {
            VmCommand.Run.class, VmCommand.ListVms.class, VmCommand.Exec.class, VmCommand.Pause.class,
            VmCommand.Resume.class, VmCommand.Sleep.class, VmCommand.Wake.class, VmCommand.Stop.class,
            VmCommand.Start.class, VmCommand.Destroy.class, VmTemplateCommand.class})
public final class VmCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static void print(VmStatus s) {
        System.out.println("vm " + s.name() + " " + s.state() + " (accel " + s.accelerator()
                + (s.pid() > 0 ? ", pid " + s.pid() : "") + (s.ip() != null ? ", ip " + s.ip() : "") + ")");
    }

    @Command(name = "run", description = "Create and boot a VM from the default image or a template; returns when its guest agent is healthy.")
    static final class Run implements Callable<Integer> {
        @Mixin DataDirOption dataDir;
        @Mixin BackendOption backend;
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Option(names = "--cpus", defaultValue = "1", description = "vCPUs (default ${DEFAULT-VALUE}).") int cpus;
        @Option(names = "--mem", defaultValue = "256", paramLabel = "MiB", description = "Memory in MiB (default ${DEFAULT-VALUE}).") long memory;
        @Option(names = "--data-disk", paramLabel = "MiB", description = "Size of a persistent data drive (/data).") Long dataDisk;
        @Option(names = "--secret", paramLabel = "KEY=VALUE", description = "A secret under /run/secrets (repeatable; "
                + "visible in this command line: prefer --secret-file).") Map<String, String> secrets = new LinkedHashMap<>();
        @Option(names = "--secret-file", paramLabel = "KEY=PATH", description = "A secret under /run/secrets, read from PATH (repeatable).")
        Map<String, Path> secretFiles = new LinkedHashMap<>();
        @Option(names = "--config-file", paramLabel = "PATH", description = "A file for /etc/mvm-config (repeatable).") List<Path> configFiles = new ArrayList<>();
        @Option(names = "--cmd", description = "Workload command the guest runs and supervises.") String cmd;
        @Option(names = "--env", paramLabel = "K=V", description = "Environment for the workload (repeatable).") Map<String, String> env = new LinkedHashMap<>();
        @Option(names = "--template", paramLabel = "NAME", description = "Start this template's current revision (mvm template build): "
                + "a clone of its golden snapshot when it has one that fits (mvm template build --snapshot), else a cold boot of its "
                + "image, saying why. vCPUs and memory default to the template's; its image's workload runs unless --cmd is given.") String template;
        @Option(names = "--clone", description = "With --template: clone its golden snapshot or fail, naming what prevents it (no cold boot).") boolean mustClone;
        @Option(names = "--cold", description = "With --template: boot its image even when it has a golden snapshot.") boolean cold;
        @Option(names = "--ram-file", description = "Keep guest RAM in a file, so the VM can be saved as a golden snapshot with 'mvm vm template save'.") boolean ramInFile;
        @Option(names = "--from-snapshot", paramLabel = "DIR", description = "Clone a golden snapshot instead of booting "
                + "(vCPUs and memory default to the snapshot's; the workload starts after the clone has its own identity).") Path fromSnapshot;
        @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec commandSpec;

        @Override
        public Integer call() {
            Path dir = dataDir.resolve();
            // Validate what can be validated before building or booting anything.
            io.mvm.model.InstanceId.of(name);
            if (ramInFile && fromSnapshot != null) {
                throw MvmException.invalid("--ram-file and --from-snapshot exclude each other (save a clone with its own RAM file after it slept once)");
            }
            if (template != null && fromSnapshot != null) {
                throw MvmException.invalid("--template and --from-snapshot exclude each other (a snapshot names its own image)");
            }
            if ((mustClone || cold) && template == null) {
                throw MvmException.invalid("--clone and --cold choose how a --template VM starts; give --template");
            }
            if (mustClone && cold) {
                throw MvmException.invalid("--clone and --cold exclude each other");
            }
            if (ramInFile && (mustClone || cold)) {
                throw MvmException.invalid("--ram-file boots a new VM with its RAM in a file; --clone and --cold do not apply to it");
            }
            Optional<io.mvm.runtime.snapshot.GoldenSnapshot> golden = Optional.ofNullable(fromSnapshot)
                    .map(p -> io.mvm.runtime.snapshot.GoldenSnapshot.open(p.toAbsolutePath().normalize()));
            var parsed = commandSpec.commandLine().getParseResult();
            if (golden.isPresent() && !parsed.hasMatchedOption("--cpus")) {
                cpus = golden.get().info().vcpus();
            }
            if (golden.isPresent() && !parsed.hasMatchedOption("--mem")) {
                memory = golden.get().info().memoryMib();
            }
            TemplateStore store = new TemplateStore(dir, java.time.InstantSource.system());
            Optional<TemplateStore.Current> revision = Optional.ofNullable(template).map(t -> store.currentRevision(new TemplateId(t))
                    .orElseThrow(() -> MvmException.notFound("template " + t + " has no intact built revision on this host"
                            + " (mvm template build FILE --on-host)")));
            if (revision.isPresent() && !parsed.hasMatchedOption("--cpus")) {
                cpus = revision.get().revision().vcpus();
            }
            if (revision.isPresent() && !parsed.hasMatchedOption("--mem")) {
                memory = revision.get().revision().memMib();
            }
            VmSpec.checkResources(cpus, memory);
            Map<String, byte[]> config = readConfigFiles(configFiles);
            DriveSpec data = dataDisk == null ? null : new DriveSpec.Data(dataDisk);
            Map<String, String> allSecrets = io.mvm.cli.SecretInputs.merge(secrets, secretFiles).orElse(Map.of());
            DriveSpec secretDrive = allSecrets.isEmpty() ? null : new DriveSpec.Secrets(allSecrets);
            LocalRuntime.requireAvailable(backend.kind(), dir);
            TemplateBoot boot = revision.isEmpty()
                    ? new TemplateBoot(ImageBuilder.ensureDefaultImage(dir, message -> System.err.println("mvm: " + message)), cmd, env)
                    : TemplateBoot.of(revision.get(), cmd, env);
            GuestImage image = boot.image();
            VmSpec.Builder b = VmSpec.builder(name, image).vcpus(cpus).memoryMib(memory).cmd(boot.cmd()).env(boot.env());
            Optional.ofNullable(data).ifPresent(b::drive);
            Optional.ofNullable(secretDrive).ifPresent(b::drive);
            if (!config.isEmpty()) {
                b.drive(new DriveSpec.Config(1, config));
            }
            VmSpec vmSpec = b.build();
            LocalVms vms = LocalRuntime.open(dir, Optional.of(image), backend.kind());
            if (golden.isPresent()) {
                var cloned = new io.mvm.runtime.vm.LocalClones(vms).runClone(vmSpec, golden.get().dir());
                print(vms.status(name));
                System.out.println("cloned in " + cloned.totalMillis() + " ms " + cloned.phaseMillis());
            } else if (template != null && !ramInFile) {
                TemplateStart.Mode mode = mustClone ? TemplateStart.Mode.CLONE : cold ? TemplateStart.Mode.COLD : TemplateStart.Mode.AUTO;
                TemplateStart.Started started = TemplateStart.start(vms, store, new TemplateId(template), vmSpec, mode,
                        message -> System.err.println("mvm: " + message));
                print(started.status());
                started.cloned().ifPresent(c -> System.out.println("cloned from template " + template + "'s golden snapshot in "
                        + c.totalMillis() + " ms " + c.phaseMillis()));
            } else if (ramInFile) {
                print(new io.mvm.runtime.vm.LocalClones(vms).runTemplate(vmSpec));
            } else {
                print(vms.run(vmSpec));
            }
            return 0;
        }

        private static Map<String, byte[]> readConfigFiles(List<Path> files) {
            Map<String, byte[]> out = new LinkedHashMap<>();
            for (Path f : files) {
                try {
                    out.put(f.getFileName().toString(), Files.readAllBytes(f));
                } catch (IOException e) {
                    throw MvmException.invalid("cannot read config file " + f + ": " + e.getMessage());
                }
            }
            return out;
        }
    }

    @Command(name = "list", description = "List VMs: state, accelerator, pid, IP.")
    static final class ListVms implements Callable<Integer> {
        @Mixin DataDirOption dataDir;
        @Mixin BackendOption backend;
        @Option(names = "--json", description = "Print JSON.") boolean json;

        @Override
        public Integer call() throws IOException {
            LocalVms vms = LocalRuntime.open(dataDir.resolve(), Optional.empty(), backend.kind());
            LocalVms.Recovery recovery = vms.recoverAll();
            recovery.sweptOrphans().forEach(o -> System.err.println("mvm: removed orphan VM directory " + o));
            List<VmStatus> all = vms.list();
            if (json) {
                ObjectMapper mapper = new ObjectMapper().registerModule(new JavaTimeModule())
                        .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS).enable(SerializationFeature.INDENT_OUTPUT);
                System.out.println(mapper.writeValueAsString(all));
                return 0;
            }
            PrintStream out = System.out;
            out.printf("%-24s %-12s %-5s %-8s %-16s %-5s %-7s %s%n", "NAME", "STATE", "ACCEL", "PID", "IP", "CPUS", "MEM", "REASON");
            for (VmStatus s : all) {
                String reason = s.reason() == null ? "" : s.reason().lines().findFirst().orElse("");
                out.printf("%-24s %-12s %-5s %-8s %-16s %-5d %-7s %s%n", s.name(), s.state(), s.accelerator(),
                        s.pid() > 0 ? Long.toString(s.pid()) : "-", s.ip() == null ? "-" : s.ip(), s.vcpus(),
                        s.memoryMib() + "M", reason.length() > 70 ? reason.substring(0, 70) + "..." : reason);
            }
            return 0;
        }
    }

    @Command(name = "exec", description = "Run a command in the guest; prints its output and exits with its exit code.")
    static final class Exec implements Callable<Integer> {
        @Mixin DataDirOption dataDir;
        @Mixin BackendOption backend;
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Parameters(index = "1..*", paramLabel = "CMD", arity = "1..*", description = "Command and arguments (after --).") List<String> argv;
        @Option(names = "--timeout", defaultValue = "60", paramLabel = "SECONDS") long timeoutSeconds;

        @Override
        public Integer call() throws IOException {
            LocalVms vms = LocalRuntime.open(dataDir.resolve(), Optional.empty(), backend.kind());
            try (GuestChannel guest = vms.guest(name)) {
                GuestChannel.ExecResult result = guest.exec(new GuestChannel.ExecRequest(argv, Map.of(), new byte[0],
                        Duration.ofSeconds(timeoutSeconds)));
                System.out.write(result.stdout());
                System.out.flush();
                System.err.write(result.stderr());
                System.err.flush();
                if (result.timedOut()) {
                    throw new MvmException(ErrorCategory.UNAVAILABLE, "the command timed out after " + timeoutSeconds + " s");
                }
                return result.exitCode();
            }
        }
    }

    abstract static class OnVm implements Callable<Integer> {
        @Mixin DataDirOption dataDir;
        @Mixin BackendOption backend;
        @Parameters(index = "0", paramLabel = "NAME") String name;

        LocalVms vms() {
            return LocalRuntime.open(dataDir.resolve(), Optional.empty(), backend.kind());
        }
    }

    @Command(name = "pause", description = "Freeze the VM's vCPUs (warm; memory stays resident).")
    static final class Pause extends OnVm {
        @Override
        public Integer call() {
            print(vms().pause(name));
            return 0;
        }
    }

    @Command(name = "resume", description = "Continue a paused VM.")
    static final class Resume extends OnVm {
        @Override
        public Integer call() {
            print(vms().resume(name));
            return 0;
        }
    }

    @Command(name = "sleep", description = "Drain the guest, snapshot it to disk and stop its VMM.")
    static final class Sleep extends OnVm {
        @Option(names = "--drain-timeout", defaultValue = "10", paramLabel = "SECONDS") long drainSeconds;

        @Override
        public Integer call() {
            print(vms().sleep(name, Duration.ofSeconds(drainSeconds)));
            return 0;
        }
    }

    @Command(name = "wake", description = "Restore a sleeping VM from its snapshot (secrets rebuilt).")
    static final class Wake extends OnVm {
        @Option(names = "--secret", paramLabel = "KEY=VALUE", description = "Replace the VM's secrets with these (repeatable).") Map<String, String> secrets;
        @Option(names = "--secret-file", paramLabel = "KEY=PATH", description = "Like --secret, the value read from PATH (repeatable).")
        Map<String, Path> secretFiles;

        @Override
        public Integer call() {
            print(vms().wake(name, io.mvm.cli.SecretInputs.merge(secrets, secretFiles)));
            return 0;
        }
    }

    @Command(name = "stop", description = "Shut the VM down (guest first, then QEMU, then SIGKILL); keeps its data drive.")
    static final class Stop extends OnVm {
        @Option(names = "--grace", defaultValue = "20", paramLabel = "SECONDS") long graceSeconds;

        @Override
        public Integer call() {
            print(vms().stop(name, Duration.ofSeconds(graceSeconds)));
            return 0;
        }
    }

    @Command(name = "start", description = "Boot a stopped VM again: same data drive, secrets rebuilt.")
    static final class Start extends OnVm {
        @Option(names = "--secret", paramLabel = "KEY=VALUE", description = "Replace the VM's secrets with these (repeatable).") Map<String, String> secrets;
        @Option(names = "--secret-file", paramLabel = "KEY=PATH", description = "Like --secret, the value read from PATH (repeatable).")
        Map<String, Path> secretFiles;

        @Override
        public Integer call() {
            Path dir = dataDir.resolve();
            LocalVms observe = LocalRuntime.open(dir, Optional.empty(), backend.kind());
            VmStatus current = observe.status(name);
            if (current.state() != InstanceState.STOPPED && current.state() != InstanceState.FAILED) {
                throw MvmException.precondition("cannot start VM " + name + " while it is " + current.state());
            }
            GuestImage image = ImageBuilder.ensureDefaultImage(dir, message -> System.err.println("mvm: " + message));
            print(LocalRuntime.open(dir, Optional.of(image), backend.kind()).start(name,
                    io.mvm.cli.SecretInputs.merge(secrets, secretFiles)));
            return 0;
        }
    }

    @Command(name = "destroy", description = "Kill the VM and remove everything it had (drives included).")
    static final class Destroy extends OnVm {
        @Override
        public Integer call() {
            vms().destroy(name);
            System.out.println("vm " + name + " destroyed");
            return 0;
        }
    }
}
