package io.mvm.runtime.template.oci;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.template.RootfsPath;
import io.mvm.runtime.template.TemplateBuildException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The classic {@code docker save} layout: {@code manifest.json} lists, per image, its config file and
 * its layer tars. There is no manifest digest, so the image's identity is the sha256 of its config
 * (Docker's image id); layers are checked against the config's {@code rootfs.diff_ids} as they are
 * unpacked, since that is the only digest docker save gives for them.
 */
final class DockerSaveReader {
    private DockerSaveReader() {}

    static OciImage read(Path dir, Optional<String> ref) {
        JsonNode manifest = OciImageReader.readJson(dir.resolve("manifest.json"), "docker-save manifest.json");
        List<JsonNode> images = new ArrayList<>();
        manifest.forEach(images::add);
        if (images.isEmpty()) {
            throw new TemplateBuildException(dir + "/manifest.json lists no images");
        }
        JsonNode image = ref.map(r -> images.stream().filter(i -> hasTag(i, r)).findFirst()
                        .orElseThrow(() -> new TemplateBuildException(dir + " has no image tagged '" + r + "'")))
                .orElseGet(() -> {
                    if (images.size() > 1) {
                        throw new TemplateBuildException(dir + " holds " + images.size() + " images; name one with ref");
                    }
                    return images.getFirst();
                });
        Path configFile = inside(dir, image.path("Config").asText(""), "the image config");
        JsonNode config = OciImageReader.readJson(configFile, "the image config");
        String configDigest;
        try {
            configDigest = ImageBuilder.sha256(configFile);
        } catch (IOException e) {
            throw new TemplateBuildException("cannot read the image config: " + e.getMessage(), e);
        }
        // Docker names the config after its own digest ("<hex>.json" or "blobs/sha256/<hex>"): check it.
        String configName = configFile.getFileName().toString().replace(".json", "");
        if (configName.matches("[0-9a-f]{64}") && !configName.equals(configDigest)) {
            throw new TemplateBuildException("the image config " + configName + " is corrupt: its content hashes to sha256:" + configDigest);
        }
        List<JsonNode> diffIds = new ArrayList<>();
        config.path("rootfs").path("diff_ids").forEach(diffIds::add);
        List<JsonNode> layerNames = new ArrayList<>();
        image.path("Layers").forEach(layerNames::add);
        if (diffIds.size() != layerNames.size()) {
            throw new TemplateBuildException("the image lists " + layerNames.size() + " layers but its config has "
                    + diffIds.size() + " diff_ids");
        }
        List<OciImage.Layer> layers = new ArrayList<>();
        for (int i = 0; i < layerNames.size(); i++) {
            Path blob = inside(dir, layerNames.get(i).asText(""), "layer " + (i + 1));
            layers.add(new OciImage.Layer(blob, Optional.empty(), Optional.empty(),
                    Optional.of(OciDigest.parse(diffIds.get(i).asText(null), "layer " + (i + 1)))));
        }
        // The image id covers the whole rootfs: the config lists every layer's diff_id.
        OciDigest identity = new OciDigest(configDigest);
        String reference = dir + ref.map(r -> " (tag " + r + ")").orElse("") + " [docker save, image id " + configDigest.substring(0, 12) + "]";
        return new OciImage(reference, identity, OciImageReader.workloadOf(config), layers);
    }

    private static boolean hasTag(JsonNode image, String ref) {
        for (JsonNode tag : image.path("RepoTags")) {
            String t = tag.asText();
            if (t.equals(ref) || t.endsWith(":" + ref)) {
                return true;
            }
        }
        return false;
    }

    private static Path inside(Path dir, String relative, String what) {
        if (relative.isEmpty()) {
            throw new TemplateBuildException("manifest.json names no file for " + what);
        }
        Path file = dir;
        for (String part : RootfsPath.components(relative)) {
            file = file.resolve(part);
        }
        try {
            Path real = file.toRealPath();
            if (!real.startsWith(dir.toRealPath()) || !Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS)) {
                throw new TemplateBuildException(what + " (" + relative + ") is not a file inside the image");
            }
            return real;
        } catch (IOException e) {
            throw new TemplateBuildException(what + " (" + relative + ") is missing from the image");
        }
    }
}
