package io.mvm.runtime.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.Accelerator;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.ImageFileDigest;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.image.GuestImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a wake accepts as "the image the snapshot was taken on", and when it has to re-read files. */
class ImageDigestsTest {
    /** Recording "an hour after" the files were written: none is within the racy window. */
    private static final Instant LATER = Instant.now().plusSeconds(3600);

    @TempDir
    Path dir;
    GuestImage image;

    @BeforeEach
    void image() throws Exception {
        image = new GuestImage("t", Files.writeString(dir.resolve("vmlinuz"), "kernel"),
                Files.writeString(dir.resolve("initramfs.cpio.gz"), "initramfs"),
                Files.write(dir.resolve("rootfs.ext4"), new byte[64 * 1024]), "6.12", "console=ttyS0");
    }

    private VmHandle handleWith(Map<String, ImageFileDigest> digests) {
        return new VmHandle(VmHandle.SCHEMA_VERSION, "vm", "qemu", Accelerator.TCG, InstanceState.SLEEPING, null, 0, 0,
                dir, dir.resolve("qmp.sock"), dir.resolve("agent.sock"), dir.resolve("serial.log"),
                dir.resolve("snapshot.bin"), null, null, Instant.EPOCH, digests);
    }

    @Test
    void recordsTheBuildTimeDigestsFromImageJsonAndEachFilesIdentity() throws Exception {
        Files.writeString(dir.resolve("image.json"), "{\"artifacts\":{\"vmlinuz\":\"from-build\"}}");

        Map<String, ImageFileDigest> recorded = ImageDigests.recorded(image, LATER);

        assertThat(recorded.get(image.kernel().toAbsolutePath().toString()).sha256()).isEqualTo("from-build");
        assertThat(recorded.get(image.rootfs().toAbsolutePath().toString()).sha256())
                .isEqualTo(ImageDigests.sha256(image.rootfs()));
        assertThat(recorded.values()).allSatisfy(d -> assertThat(d.identity()).matches("\\d+:\\d+:\\d+:\\d+:\\d+"));
    }

    @Test
    void anUnchangedIdentityIsTrustedWithoutReadingTheFileAgain() {
        Map<String, ImageFileDigest> recorded = new HashMap<>(ImageDigests.recorded(image, LATER));
        String rootfs = image.rootfs().toAbsolutePath().toString();
        // A digest that cannot match the content: only a check that skips re-hashing accepts it.
        recorded.put(rootfs, new ImageFileDigest("0".repeat(64), recorded.get(rootfs).identity()));

        assertThatCode(() -> ImageDigests.requireUnchanged(handleWith(recorded), image)).doesNotThrowAnyException();
    }

    @Test
    void aSameSizeInPlaceWriteIsRefusedEvenWithTheOldMtimeRestored() throws Exception {
        VmHandle handle = handleWith(ImageDigests.recorded(image, LATER));
        FileTime mtime = Files.getLastModifiedTime(image.rootfs());
        byte[] altered = new byte[64 * 1024];
        altered[altered.length - 1] = 1;
        Files.write(image.rootfs(), altered);
        Files.setLastModifiedTime(image.rootfs(), mtime);

        assertThatThrownBy(() -> ImageDigests.requireUnchanged(handle, image)).isInstanceOfSatisfying(MvmException.class, e -> {
            assertThat(e.category()).isEqualTo(ErrorCategory.FAILED_PRECONDITION);
            assertThat(e.getMessage()).contains("image changed since the snapshot", "rootfs.ext4");
        });
    }

    @Test
    void aFileReplacedByIdenticalBytesIsAcceptedByItsDigest() throws Exception {
        VmHandle handle = handleWith(ImageDigests.recorded(image, LATER));
        Path rebuilt = Files.write(dir.resolve("rootfs.new"), Files.readAllBytes(image.rootfs()));
        Files.move(rebuilt, image.rootfs(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);

        assertThat(ImageDigests.identity(image.rootfs()))
                .isNotEqualTo(handle.imageDigests().get(image.rootfs().toAbsolutePath().toString()).identity());
        assertThatCode(() -> ImageDigests.requireUnchanged(handle, image)).doesNotThrowAnyException();
    }

    @Test
    void aHandleWithDigestsOnlyIsCheckedByContent() throws Exception {
        Map<String, ImageFileDigest> digestsOnly = new HashMap<>();
        ImageDigests.recorded(image, LATER).forEach((path, d) -> digestsOnly.put(path, ImageFileDigest.ofDigestOnly(d.sha256())));
        assertThatCode(() -> ImageDigests.requireUnchanged(handleWith(digestsOnly), image)).doesNotThrowAnyException();

        Files.writeString(image.kernel(), "kerneX");
        assertThatThrownBy(() -> ImageDigests.requireUnchanged(handleWith(digestsOnly), image))
                .hasMessageContaining("vmlinuz");
    }

    @Test
    void aFileChangedJustBeforeRecordingGetsNoIdentityAndIsCheckedByContent() throws Exception {
        Map<String, ImageFileDigest> recorded = ImageDigests.recorded(image, Instant.now());
        assertThat(recorded.values()).allSatisfy(d -> assertThat(d.identity()).isNull());

        // Within the same timestamp tick a same-size write could leave dev:ino:size:mtime:ctime as
        // they were; without an identity the content decides.
        byte[] altered = new byte[64 * 1024];
        altered[0] = 7;
        Files.write(image.rootfs(), altered);
        assertThatThrownBy(() -> ImageDigests.requireUnchanged(handleWith(recorded), image)).hasMessageContaining("rootfs.ext4");
    }

    @Test
    void aMissingImageFileIsRefused() throws Exception {
        VmHandle handle = handleWith(ImageDigests.recorded(image, LATER));
        Files.delete(image.initramfs());
        assertThatThrownBy(() -> ImageDigests.requireUnchanged(handle, image)).hasMessageContaining("initramfs.cpio.gz");
    }
}
