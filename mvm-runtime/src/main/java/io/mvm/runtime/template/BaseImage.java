package io.mvm.runtime.template;

import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ImageMetadata;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The kernel and initramfs a template revision boots with: those of this host's default image
 * (its stage-1 init finds any rootfs labelled {@code mvm-root} and switches to {@code /sbin/mvm-init}),
 * with the digests image.json recorded for them. A revision keeps its own copy, so rebuilding the
 * default image later does not change what an existing revision boots.
 */
public record BaseImage(GuestImage image, String kernelSha256, String initramfsSha256) {

    /** The host's default image as {@code mvm bootstrap} left it; never builds one. */
    public static BaseImage ofDefaultImage(Path dataDir) {
        GuestImage image = ImageBuilder.load(dataDir, ImageBuilder.DEFAULT_IMAGE).orElseThrow(() -> new TemplateBuildException(
                "the default guest image in " + dataDir + "/images/default is missing or damaged; run mvm bootstrap first"));
        ImageMetadata metadata = ImageBuilder.metadata(dataDir, ImageBuilder.DEFAULT_IMAGE).orElseThrow();
        return new BaseImage(image, metadata.artifacts().get(ImageBuilder.KERNEL_FILE), metadata.artifacts().get(ImageBuilder.INITRAMFS_FILE));
    }

    /**
     * Puts the kernel and initramfs into a revision's staging directory: hard links when on the same
     * filesystem (the default image replaces its files by rename, never in place), else copies.
     */
    /**
     * Makes {@code tree} the staging revision's rootfs.ext4 (then removes the tree), puts this base's
     * kernel and initramfs beside it, and says what was produced: the end of every builder that
     * boots a root tree with mvm's kernel.
     */
    public ArtifactProducer.Produced rootfsFromTree(Path tree, Path staging) throws IOException {
        RootfsImage.write(tree, staging.resolve(io.mvm.runtime.image.ImageBuilder.ROOTFS_FILE));
        io.mvm.runtime.state.DirectoryTree.delete(tree);
        copyInto(staging);
        java.util.Map<String, String> artifacts = new java.util.LinkedHashMap<>();
        artifacts.put(io.mvm.core.template.ArtifactFile.ROOTFS, io.mvm.runtime.image.ImageBuilder.ROOTFS_FILE);
        artifacts.put(io.mvm.core.template.ArtifactFile.KERNEL, io.mvm.runtime.image.ImageBuilder.KERNEL_FILE);
        artifacts.put(io.mvm.core.template.ArtifactFile.INITRAMFS, io.mvm.runtime.image.ImageBuilder.INITRAMFS_FILE);
        return new ArtifactProducer.Produced(artifacts, image.kernelVersion(), image.bootArgs(), java.util.Optional.empty());
    }

    public void copyInto(Path staging) throws IOException {
        linkOrCopy(image.kernel(), staging.resolve(ImageBuilder.KERNEL_FILE));
        linkOrCopy(image.initramfs(), staging.resolve(ImageBuilder.INITRAMFS_FILE));
    }

    private static void linkOrCopy(Path from, Path to) throws IOException {
        try {
            Files.createLink(to, from);
        } catch (IOException | UnsupportedOperationException e) {
            Files.copy(from, to, StandardCopyOption.COPY_ATTRIBUTES);
        }
    }

    /** What of the base goes into a revision, for its recipe. */
    public String recipe() {
        return "kernel " + kernelSha256 + "\ninitramfs " + initramfsSha256 + "\nkernel-version " + image.kernelVersion()
                + "\nboot " + image.bootArgs() + "\n";
    }
}
