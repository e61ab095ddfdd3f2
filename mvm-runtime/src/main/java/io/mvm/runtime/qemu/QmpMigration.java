package io.mvm.runtime.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.Polling;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.guest.GuestChannel;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The QMP steps of saving and loading device state that golden snapshots, clones and file-backed
 * sleep share, and the owner-only, synced files they write. Streams go through {@code exec:cat}:
 * Java cannot pass a descriptor over a Unix socket (SCM_RIGHTS) for QMP {@code getfd}.
 */
final class QmpMigration {
    private static final Logger LOG = LoggerFactory.getLogger(QmpMigration.class);

    private final QemuBackend.Settings settings;
    private final AgentConnector agents;

    QmpMigration(QemuBackend.Settings settings, AgentConnector agents) {
        this.settings = settings;
        this.agents = agents;
    }

    /** Loads device state into a VMM started with {@code -incoming defer}, then lets the guest run. */
    void restore(VmHandle handle, Path state, boolean ramAlreadyMapped) {
        try (QmpClient qmp = QmpClient.connect(handle.controlSocket(), settings.controlTimeout())) {
            if (ramAlreadyMapped) {
                ignoreShared(qmp);
            }
            qmp.execute("migrate-incoming", Map.of("uri", "exec:cat " + QemuLaunch.shellQuote(state.toString())),
                    settings.controlTimeout());
            runWhenLoaded(qmp, settings, Duration.ofMillis(2), "loading the device state");
        }
    }

    /**
     * Waits until an incoming migration has loaded (polling every {@code poll}) and makes sure the
     * guest runs; {@code what} names the operation in errors. Shared by wake and clone restores.
     */
    static void runWhenLoaded(QmpClient qmp, QemuBackend.Settings settings, Duration poll, String what) {
        long deadline = System.nanoTime() + settings.bootTimeout().toNanos();
        while (true) {
            String status = qmp.execute("query-status", settings.controlTimeout()).path("status").asText();
            switch (status) {
                case "running" -> {
                    return;
                }
                case "inmigrate" -> {
                    if (System.nanoTime() > deadline) {
                        throw new MvmException(ErrorCategory.UNAVAILABLE, what + " took longer than " + settings.bootTimeout());
                    }
                    Polling.pause(poll);
                }
                case "paused", "postmigrate", "prelaunch", "restore-vm" -> {
                    qmp.execute("cont", settings.controlTimeout());
                    return;
                }
                default -> throw new MvmException(ErrorCategory.INTERNAL, what + " left QEMU in state '" + status + "'");
            }
        }
    }

    void ignoreShared(QmpClient qmp) {
        setIgnoreShared(qmp, true);
    }

    void setIgnoreShared(QmpClient qmp, boolean on) {
        qmp.execute("migrate-set-capabilities", Map.of("capabilities",
                List.of(Map.of("capability", "x-ignore-shared", "state", on))), settings.controlTimeout());
    }

    void awaitOutgoingMigration(QmpClient qmp, String name) {
        long deadline = System.nanoTime() + settings.bootTimeout().toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode info = qmp.execute("query-migrate", settings.controlTimeout());
            String status = info.path("status").asText();
            switch (status) {
                case "completed" -> {
                    return;
                }
                case "failed", "cancelled" -> throw new MvmException(ErrorCategory.INTERNAL, "snapshot of "
                        + name + " " + status + ": " + info.path("error-desc").asText("no detail"));
                default -> Polling.pause(Duration.ofMillis(2));
            }
        }
        throw new MvmException(ErrorCategory.UNAVAILABLE, "snapshot of " + name + " did not finish within " + settings.bootTimeout());
    }

    void quit(QmpClient qmp) {
        try {
            qmp.execute("quit", settings.controlTimeout());
        } catch (MvmException e) {
            // QEMU may close the monitor before answering quit.
        }
    }

    void resumeAndDrain(VmHandle handle, Duration drainDeadline) {
        if (handle.state() == InstanceState.WARM) {
            // Paused vCPUs cannot hear a drain (WarmSleepDrainIT): run for the drain, stopped again below.
            try (QmpClient qmp = QmpClient.connect(handle.controlSocket(), settings.controlTimeout())) {
                qmp.execute("cont", settings.controlTimeout());
            }
        }
        try (GuestChannel channel = agents.connect(handle.agentSocket())) {
            GuestChannel.DrainResult drained = channel.drain(drainDeadline);
            LOG.info("VM {} drained (completed={}, took {})", handle.name(), drained.completed(), drained.took());
        } catch (RuntimeException e) {
            LOG.warn("VM {}: drain failed, snapshotting anyway: {}", handle.name(), e.getMessage());
        }
    }

    static void createOwnerOnly(Path file) {
        try {
            Files.deleteIfExists(file);
            // It holds guest state (secrets included): owner-only before a byte is written.
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot create " + file + ": " + e.getMessage(), e);
        }
    }

    static void force(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }
}
