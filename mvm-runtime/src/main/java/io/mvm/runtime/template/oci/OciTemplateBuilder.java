package io.mvm.runtime.template.oci;

import io.mvm.core.template.ArtifactFile;
import io.mvm.core.template.DefaultWorkload;
import io.mvm.core.template.SourceIdentity;
import io.mvm.core.template.TemplateId;
import io.mvm.core.template.TemplateSource;
import io.mvm.core.template.TemplateVariant;
import io.mvm.runtime.image.HostProgram;
import io.mvm.runtime.image.ImageBuildException;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.state.DirectoryTree;
import io.mvm.runtime.template.ArtifactProducer;
import io.mvm.runtime.template.BaseImage;
import io.mvm.runtime.template.BuildOutcome;
import io.mvm.runtime.template.BuildRequest;
import io.mvm.runtime.template.GuestAgentInjection;
import io.mvm.runtime.template.ImageUser;
import io.mvm.runtime.template.RootfsImage;
import io.mvm.runtime.template.TemplateBuildException;
import io.mvm.runtime.template.TemplateStore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;

/**
 * Builds a template revision from an OCI image on this host: reads and checks the image, applies
 * its layers into a staging tree ({@link LayerApplier}), adds mvm's guest side
 * ({@link GuestAgentInjection}), writes {@code rootfs.ext4} and keeps a copy of the base image's
 * kernel and initramfs — all inside the store's staging directory, so a failure at any step leaves
 * nothing behind and the current revision unchanged. The image's Entrypoint/Cmd/Env/WorkingDir/User
 * are recorded in the revision as its default workload.
 *
 * <p>The cache key's lock hash is the manifest digest (for docker save: the image id), so the same
 * image as a layout or as an archive is one cache entry.
 */
public final class OciTemplateBuilder {
    /** Moves when the builder's output changes for the same image (2: the User resolved into run_as). */
    static final String FORMAT = "oci-builder 2";
    /** The tag skopeo gives the image in its scratch layout. */
    static final String SKOPEO_TAG = "mvm";

    private final TemplateStore store;
    private final BaseImage base;
    private final GuestAgentInjection injection;
    private final UnpackLimits limits;
    private final Path scratchDir;

    /**
     * @param scratchDir where image archives are unpacked for reading (deleted after each build)
     */
    public OciTemplateBuilder(TemplateStore store, BaseImage base, GuestAgentInjection injection, UnpackLimits limits, Path scratchDir) {
        this.store = store;
        this.base = base;
        this.injection = injection;
        this.limits = limits;
        this.scratchDir = scratchDir;
    }

    /**
     * @param relativeTo the directory a relative layout/archive path is read from (the template file's)
     */
    public BuildOutcome build(TemplateId template, TemplateSource.Oci source, Path relativeTo, TemplateVariant variant,
                              boolean force, ProgressListener progress) {
        String location = switch (source.location()) {
            case TemplateSource.Location.LayoutDirectory dir -> relativeTo.resolve(dir.path()).toAbsolutePath().normalize().toString();
            case TemplateSource.Location.Archive archive -> relativeTo.resolve(archive.path()).toAbsolutePath().normalize().toString();
            case TemplateSource.Location.Registry registry -> registry.reference();
        };
        Path unpacked = null;
        try {
            Optional<String> ref = source.ref();
            Path layout = switch (source.location()) {
                case TemplateSource.Location.LayoutDirectory dir -> {
                    if (!Files.isDirectory(Path.of(location))) {
                        throw new TemplateBuildException("OCI layout directory " + location + " does not exist");
                    }
                    yield Path.of(location);
                }
                case TemplateSource.Location.Archive archive -> {
                    if (!Files.isRegularFile(Path.of(location))) {
                        throw new TemplateBuildException("image archive " + location + " does not exist");
                    }
                    unpacked = scratch();
                    progress.step("unpacking image archive " + location);
                    ImageArchive.extract(Path.of(location), unpacked, limits);
                    yield unpacked;
                }
                case TemplateSource.Location.Registry registry -> {
                    // skopeo fetches (and verifies) the image into a local OCI layout; from there on it is
                    // read like any layout, every digest checked again by mvm's own reader.
                    unpacked = scratch();
                    progress.step("skopeo copy " + registry.reference());
                    try {
                        HostProgram.of("skopeo", "copy", "--quiet", registry.reference(), "oci:" + unpacked.resolve("layout") + ":" + SKOPEO_TAG)
                                .timeout(Duration.ofMinutes(30)).run();
                    } catch (ImageBuildException e) {
                        throw new TemplateBuildException("cannot fetch image " + registry.reference() + ": " + e.getMessage(), e);
                    }
                    ref = Optional.of(SKOPEO_TAG);
                    yield unpacked.resolve("layout");
                }
            };
            OciImage image = OciImageReader.read(layout, ref);
            progress.step("image " + image.manifestDigest() + ": " + image.layers().size() + " layer(s)");
            BuildRequest request = new BuildRequest(template, new SourceIdentity("oci",
                    source.location() instanceof TemplateSource.Location.LayoutDirectory ? image.reference() : location + ref(source),
                    image.manifestDigest().toString()), variant.profile(), variant.role(), variant.vcpus(), variant.memMib(),
                    variant.dataDiskMib(), recipe());
            return store.build(request, staging -> produce(image, staging, progress), force, progress);
        } catch (IOException e) {
            throw new TemplateBuildException("cannot read the OCI image at " + location + ": " + e.getMessage(), e);
        } finally {
            if (unpacked != null) {
                DirectoryTree.deleteQuietly(unpacked);
            }
        }
    }

    private Path scratch() throws IOException {
        Files.createDirectories(scratchDir);
        return Files.createTempDirectory(scratchDir, "oci-source-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }

    private static String ref(TemplateSource.Oci source) {
        return source.ref().map(r -> " (ref " + r + ")").orElse("");
    }

    /** Everything besides the image that decides the output. */
    public String recipe() {
        try {
            String text = FORMAT + "\n" + base.recipe() + "injection " + injection.recipe() + "\n";
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private ArtifactProducer.Produced produce(OciImage image, Path staging, ProgressListener progress) {
        try {
            Path tree = Files.createDirectory(staging.resolve("rootfs-tree"));
            Files.setAttribute(tree, "unix:mode", 0755);
            unpack(image, tree, limits, progress);
            Optional<DefaultWorkload> workload = image.workload()
                    .map(w -> w.withRunAs(ImageUser.resolve(tree, w.user(), progress::step)));
            injection.inject(tree);
            progress.step("rootfs: mkfs.ext4 over the image and mvm's guest agent");
            RootfsImage.write(tree, staging.resolve(ImageBuilder.ROOTFS_FILE));
            DirectoryTree.delete(tree);
            base.copyInto(staging);
            return new ArtifactProducer.Produced(Map.of(
                    ArtifactFile.ROOTFS, ImageBuilder.ROOTFS_FILE,
                    ArtifactFile.KERNEL, ImageBuilder.KERNEL_FILE,
                    ArtifactFile.INITRAMFS, ImageBuilder.INITRAMFS_FILE),
                    base.image().kernelVersion(), base.image().bootArgs(), workload);
        } catch (IOException e) {
            throw new TemplateBuildException("cannot assemble the root filesystem: " + e.getMessage(), e);
        }
    }

    /** Unpacks the layers in order into {@code tree}; every digest is checked. */
    public static void unpack(OciImage image, Path tree, UnpackLimits limits, ProgressListener progress) {
        LayerApplier applier = new LayerApplier(tree, limits, progress::step);
        int n = 0;
        for (OciImage.Layer layer : image.layers()) {
            n++;
            if (layer.blobDigest().isPresent()) {
                OciImageReader.verifyBlob(layer.blob(), layer.blobDigest().get(), layer.blobSize(), "layer " + n);
            }
            progress.step("layer " + n + "/" + image.layers().size() + " " + layer.name());
            try (InputStream blob = Files.newInputStream(layer.blob());
                 DigestInputStream uncompressed = new DigestInputStream(ImageArchive.maybeGunzip(blob), MessageDigest.getInstance("SHA-256"))) {
                applier.apply(layer.name(), uncompressed);
                if (layer.diffId().isPresent()) {
                    uncompressed.transferTo(java.io.OutputStream.nullOutputStream()); // the tar's end padding, still hashed
                    String actual = HexFormat.of().formatHex(uncompressed.getMessageDigest().digest());
                    if (!actual.equals(layer.diffId().get().hex())) {
                        throw new TemplateBuildException("layer " + n + " is corrupt: its tar hashes to sha256:" + actual
                                + ", the image config says " + layer.diffId().get());
                    }
                }
            } catch (IOException e) {
                throw new TemplateBuildException("cannot read layer " + layer.name() + ": " + e.getMessage(), e);
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
        progress.step("unpacked " + applier.entriesCreated() + " entries, " + applier.bytesWritten() / (1 << 20) + " MiB");
    }
}
