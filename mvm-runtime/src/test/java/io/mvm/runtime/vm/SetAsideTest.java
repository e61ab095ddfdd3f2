package io.mvm.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.Accelerator;
import io.mvm.model.InstanceState;
import io.mvm.runtime.backend.Capabilities;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.Fingerprint;
import io.mvm.runtime.backend.HandleJournal;
import io.mvm.runtime.backend.HypervisorBackend;
import io.mvm.runtime.backend.TestImages;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LocalVms#setAside} on a sleeping VM (no VMM, so nothing to stop; real VMs: OrphanedDataIT
 * in mvm-agent): the data disk and the snapshot move to {@code orphans/}, the secrets and the rest
 * do not, and {@link Orphans#list()} reports it.
 */
class SetAsideTest {
    static final Instant AT = Instant.parse("2026-12-03T10:00:00Z");

    @TempDir
    Path dataDir;

    /** "Starts" a VM straight into SLEEPING with a snapshot; stopping it would be a bug here. */
    static final class SleepingBackend implements HypervisorBackend {
        @Override public String name() { return "test"; }
        @Override public Capabilities capabilities() {
            return new Capabilities(false, false, Capabilities.GuestChannelKind.VIRTIO_SERIAL, false, false,
                    Set.of(Accelerator.TCG));
        }
        @Override public Fingerprint fingerprint() { return new Fingerprint(name(), "0", Accelerator.TCG, "test"); }
        @Override public void validate(VmSpec spec) { }

        @Override
        public VmHandle start(VmSpec spec, Path vmDir, HandleJournal journal) {
            try {
                Files.write(vmDir.resolve("data.ext4"), new byte[4096]);
                Files.write(vmDir.resolve("snapshot.bin"), new byte[1000]);
                Files.write(vmDir.resolve("snapshot.bin.partial"), new byte[10]);
                Files.write(vmDir.resolve("secrets.ext4"), new byte[100]);
                Files.writeString(vmDir.resolve("serial.log"), "booted\n");
            } catch (java.io.IOException e) {
                throw new IllegalStateException(e);
            }
            var handle = new VmHandle(VmHandle.SCHEMA_VERSION, spec.name().value(), name(), Accelerator.TCG,
                    InstanceState.SLEEPING, null, 0, 0, vmDir, vmDir.resolve("ctl.sock"), vmDir.resolve("agent.sock"),
                    vmDir.resolve("serial.log"), vmDir.resolve("snapshot.bin"), null, null, AT);
            journal.record(handle);
            return handle;
        }

        @Override public VmHandle recover(VmHandle handle, HandleJournal journal) { return handle; }
        @Override public VmHandle stop(VmHandle handle, Duration grace, HandleJournal journal) {
            throw new AssertionError("a sleeping VM has no VMM to stop, and a stop would drop its snapshot");
        }
        @Override public void destroy(VmHandle handle) { throw new AssertionError("set aside, not destroyed"); }
        @Override public GuestChannel guestChannel(VmHandle handle) { throw new UnsupportedOperationException(); }
    }

    @Test
    void aSleepingVmKeepsItsDataDiskAndSnapshotAndNothingElse() throws Exception {
        var vms = new LocalVms(dataDir, new SleepingBackend(), InstantSource.fixed(AT));
        Files.createDirectories(dataDir.resolve("image"));
        vms.run(VmSpec.builder("w1", TestImages.fake(dataDir.resolve("image")))
                .drive(new DriveSpec.Secrets(Map.of("TOKEN", "s3cret"))).build());

        var kept = vms.setAside("w1", "not in the desired state of generation 7", Duration.ofSeconds(1));

        assertThat(kept).hasValue(dataDir.resolve("orphans").resolve("w1-20261203T100000.000Z"));
        try (Stream<Path> files = Files.list(kept.orElseThrow())) {
            assertThat(files.map(f -> f.getFileName().toString()).sorted().toList())
                    .containsExactly("data.ext4", "orphan.json", "snapshot.bin");
        }
        assertThat(dataDir.resolve("vms").resolve("w1")).doesNotExist();
        assertThat(vms.list()).isEmpty();
        assertThat(vms.orphans().list()).containsExactly(new Orphans.Orphan("w1", kept.orElseThrow(), 4096 + 1000,
                "not in the desired state of generation 7", AT));
        assertThat(vms.setAside("w1", "again", Duration.ofSeconds(1))).as("nothing left to set aside").isEmpty();
    }

    @Test
    void aDirectoryWithoutANoteIsStillListed() throws Exception {
        var dir = dataDir.resolve("orphans").resolve("by-hand");
        Files.createDirectories(dir);
        Files.write(dir.resolve("data.ext4"), new byte[10]);

        assertThat(new Orphans(dataDir).list()).singleElement().satisfies(o -> {
            assertThat(o.name()).isEqualTo("by-hand");
            assertThat(o.bytes()).isEqualTo(10);
            assertThat(o.reason()).contains("no readable orphan.json");
        });
        assertThat(new Orphans(dataDir.resolve("nothing-here")).list()).isEqualTo(List.of());
    }
}
