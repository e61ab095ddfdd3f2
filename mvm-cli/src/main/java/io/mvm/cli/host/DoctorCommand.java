package io.mvm.cli.host;

import io.mvm.cli.DataDirOption;
import io.mvm.cli.vm.LocalRuntime;
import io.mvm.runtime.accel.AcceleratorProbe;
import io.mvm.runtime.doctor.CheckResult;
import io.mvm.runtime.doctor.HostChecks;
import io.mvm.runtime.image.ImageBuilder;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mvm doctor}: one line per host check, non-zero exit when anything FAILs. */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = "Check this host: QEMU, guest image, KVM (real probe boot), cgroups, nftables, bridge/tap, disk.")
public final class DoctorCommand implements Callable<Integer> {
    @Mixin DataDirOption dataDir;

    @Option(names = "--reprobe", description = "Probe KVM again instead of using the cached result.")
    boolean reprobe;

    @Override
    public Integer call() {
        var dir = dataDir.resolve();
        HostChecks checks = new HostChecks(dir, () -> ImageBuilder.load(dir, ImageBuilder.DEFAULT_IMAGE),
                AcceleratorProbe.standard(InstantSource.system()), reprobe, LocalRuntime.acceleratorOverride(System.getenv()));
        List<CheckResult> results = checks.runAll();
        for (CheckResult r : results) {
            System.out.printf("%-4s %-12s %s%s%n", r.status(), r.name(), r.detail(),
                    r.fix().isEmpty() ? "" : "  -> fix: " + r.fix());
        }
        boolean failed = results.stream().anyMatch(r -> r.status() == CheckResult.Status.FAIL);
        return failed ? io.mvm.cli.ExitCodes.of(io.mvm.model.ErrorCategory.FAILED_PRECONDITION) : 0;
    }
}
