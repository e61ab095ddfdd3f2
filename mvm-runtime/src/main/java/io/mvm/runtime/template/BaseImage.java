package io.mvm.runtime.template;

import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ImageMetadata;
import java.nio.file.Path;

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

    /** What of the base goes into a revision, for its recipe. */
    public String recipe() {
        return "kernel " + kernelSha256 + "\ninitramfs " + initramfsSha256 + "\nkernel-version " + image.kernelVersion()
                + "\nboot " + image.bootArgs() + "\n";
    }
}
