package io.mvm.cli.host;

import io.mvm.cli.DataDirOption;
import io.mvm.runtime.bootstrap.HostBootstrap;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import java.io.PrintWriter;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mvm bootstrap}: host packages, guest kernel and the default guest image. */
@Command(name = "bootstrap", mixinStandardHelpOptions = true,
        description = "Prepares this host: installs missing host packages with apt (as root on Debian/Ubuntu), "
                + "downloads the guest kernel with apt and builds the default guest image. Safe to run again.")
public final class BootstrapCommand implements Callable<Integer> {

    @Mixin
    DataDirOption dataDir;

    @Option(names = "--kernel", paramLabel = "VERSION",
            description = "Guest kernel to use, e.g. 6.1.0-56 (default: $" + ImageBuilder.KERNEL_PIN_ENV
                    + ", else the newest linux-image-*-cloud-amd64 apt offers).")
    String kernel;

    @Option(names = "--no-install", description = "Only check host packages; never run apt-get install.")
    boolean noInstall;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        ProgressListener progress = line -> {
            out.println("bootstrap: " + line);
            out.flush();
        };
        Optional<String> pin = Optional.ofNullable(kernel).or(() -> Optional.ofNullable(System.getenv(ImageBuilder.KERNEL_PIN_ENV)))
                .filter(s -> !s.isBlank());
        HostBootstrap.Outcome outcome = HostBootstrap.forThisHost(progress)
                .run(new HostBootstrap.Options(dataDir.resolve(), pin, !noInstall), progress);
        out.println("bootstrap: done; guest image '" + outcome.image().name() + "' (kernel " + outcome.image().kernelVersion()
                + ") in " + outcome.image().kernel().getParent());
        return 0;
    }
}
