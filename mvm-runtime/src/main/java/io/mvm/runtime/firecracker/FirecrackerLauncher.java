package io.mvm.runtime.firecracker;

import io.mvm.core.shell.ShellWords;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.VmmProcess;
import java.io.File;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Starts a Firecracker process and returns once its API socket accepts connections. Injectable so
 * the protocol tests can stand a spec-checking fake API server in for the binary.
 */
@FunctionalInterface
public interface FirecrackerLauncher {

    /**
     * @param command          the full command line ({@code firecracker --api-sock ...})
     * @param cgroupProcsFiles {@code cgroup.procs} files the VMM must join before it starts
     */
    record Launch(List<String> command, Path vmDir, Path apiSocket, Path consoleLog, Path pidFile,
                  List<Path> cgroupProcsFiles, Duration timeout) {
        public Launch {
            command = List.copyOf(command);
            cgroupProcsFiles = List.copyOf(cgroupProcsFiles);
        }
    }

    VmmProcess launch(Launch launch);

    /**
     * Firecracker has no daemon mode: a tiny shell joins the VM's cgroups, starts it in the
     * background in a session of its own ({@code setsid}) with the console going to the log, and
     * writes its pid. The shell then exits, so this JVM can die without taking the VMM down.
     */
    FirecrackerLauncher DETACHED = launch -> {
        StringBuilder script = new StringBuilder();
        for (Path procs : launch.cgroupProcsFiles()) {
            script.append("echo $$ > ").append(ShellWords.quote(procs.toString())).append(" || exit 97; ");
        }
        script.append("setsid \"$@\" </dev/null >>").append(ShellWords.quote(launch.consoleLog().toString()))
                .append(" 2>&1 & echo $! > ").append(ShellWords.quote(launch.pidFile().toString()));
        List<String> command = new ArrayList<>(List.of("/bin/sh", "-c", script.toString(), "mvm-vmm"));
        command.addAll(launch.command());
        try {
            Process shell = new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(launch.consoleLog().toFile()))
                    .redirectErrorStream(true)
                    .start();
            if (!shell.waitFor(launch.timeout().toSeconds(), TimeUnit.SECONDS) || shell.exitValue() != 0) {
                shell.destroyForcibly();
                throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "could not start " + launch.command().getFirst()
                        + " (launcher exit " + (shell.isAlive() ? "timeout" : shell.exitValue()) + ")");
            }
            long pid = Long.parseLong(Files.readString(launch.pidFile()).strip());
            VmmProcess process = VmmProcess.of(pid).orElseThrow(() -> new MvmException(ErrorCategory.UNAVAILABLE,
                    launch.command().getFirst() + " exited right after starting; see " + launch.consoleLog()));
            awaitApiSocket(launch, process);
            return process;
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot launch " + launch.command().getFirst() + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MvmException(ErrorCategory.UNAVAILABLE, "interrupted while launching Firecracker", e);
        }
    };

    private static void awaitApiSocket(Launch launch, VmmProcess process) throws InterruptedException {
        long deadline = System.nanoTime() + launch.timeout().toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new MvmException(ErrorCategory.FAILED_PRECONDITION, launch.command().getFirst()
                        + " exited before opening its API socket; see " + launch.consoleLog());
            }
            try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                probe.connect(UnixDomainSocketAddress.of(launch.apiSocket()));
                return;
            } catch (IOException notYet) {
                Thread.sleep(10);
            }
        }
        process.kill();
        throw new MvmException(ErrorCategory.UNAVAILABLE, "Firecracker did not open " + launch.apiSocket()
                + " within " + launch.timeout());
    }
}
