package io.mvm.cli.vm;

import io.mvm.cli.DataDirOption;
import io.mvm.runtime.snapshot.GoldenSnapshot;
import io.mvm.runtime.snapshot.GoldenSnapshotDeletion;
import io.mvm.runtime.vm.LocalClones;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code mvm vm template ...}: golden snapshots on this host. A template VM is one started with
 * {@code mvm vm run NAME --template} (its RAM in a file); {@code save} turns it into a snapshot
 * directory that {@code mvm vm run NAME --from-snapshot DIR} clones.
 */
@Command(name = "template", mixinStandardHelpOptions = true,
        description = "Golden snapshots of template VMs (local; see mvm vm run --template / --from-snapshot).",
        subcommands = {VmTemplateCommand.Save.class, VmTemplateCommand.Show.class, VmTemplateCommand.Delete.class})
public final class VmTemplateCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "save", description = "Drain a running template VM and save it as a golden snapshot in DIR; its VMM ends.")
    static final class Save implements Callable<Integer> {
        @Mixin DataDirOption dataDir;
        @Parameters(index = "0", paramLabel = "VM") String name;
        @Parameters(index = "1", paramLabel = "DIR", description = "Directory to create (must not exist).") Path dir;
        @Option(names = "--drain-timeout", defaultValue = "10", paramLabel = "SECONDS") long drainSeconds;

        @Override
        public Integer call() {
            LocalClones clones = new LocalClones(LocalRuntime.open(dataDir.resolve(), Optional.empty()));
            GoldenSnapshot golden = clones.saveTemplate(name, dir, Duration.ofSeconds(drainSeconds));
            System.out.println("golden snapshot " + golden.dir() + " (vmstate " + golden.info().vmstate().bytes()
                    + " bytes, RAM " + (golden.info().memory().bytes() >> 20) + " MiB, saved in " + golden.info().saveMillis()
                    + " ms); VM " + name + " is stopped");
            return 0;
        }
    }

    @Command(name = "show", description = "Print a golden snapshot's info.json after checking its files.")
    static final class Show implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "DIR") Path dir;

        @Override
        public Integer call() throws Exception {
            GoldenSnapshot golden = GoldenSnapshot.open(dir.toAbsolutePath().normalize());
            golden.verify();
            System.out.println(java.nio.file.Files.readString(golden.dir().resolve(io.mvm.runtime.snapshot.SnapshotInfo.FILE_NAME)));
            return 0;
        }
    }

    @Command(name = "delete", description = "Delete a golden snapshot; refused while running clones map its RAM unless --even-if-used.")
    static final class Delete implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "DIR") Path dir;
        @Option(names = "--even-if-used", description = "Delete anyway: running clones keep its RAM until they end.") boolean evenIfUsed;

        @Override
        public Integer call() {
            List<Long> users = GoldenSnapshotDeletion.delete(dir.toAbsolutePath().normalize(), evenIfUsed);
            System.out.println("snapshot " + dir + " deleted" + (users.isEmpty() ? ""
                    : "; " + users.size() + " running clone(s) keep its RAM until they end"));
            return 0;
        }
    }
}
