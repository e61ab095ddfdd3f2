package io.mvm.runtime.template.oci;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.core.template.DefaultWorkload;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.template.TemplateBuildException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads an image from an OCI image layout directory ({@code oci-layout}, {@code index.json},
 * {@code blobs/sha256/...}) or from an unpacked {@code docker save} directory ({@code manifest.json}),
 * checking every digest it is given against the bytes before using them: the index's manifest,
 * the manifest's config and (in {@link #verifyBlob}) each layer blob.
 */
public final class OciImageReader {
    static final String REF_ANNOTATION = "org.opencontainers.image.ref.name";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_JSON_BYTES = 4 << 20;
    private static final List<String> INDEX_TYPES = List.of(
            "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json");

    private OciImageReader() {}

    /** An OCI layout, or a docker-save directory when it has a manifest.json and no index.json. */
    public static OciImage read(Path dir, Optional<String> ref) {
        if (Files.isRegularFile(dir.resolve("index.json"))) {
            return readLayout(dir, ref);
        }
        if (Files.isRegularFile(dir.resolve("manifest.json"))) {
            return DockerSaveReader.read(dir, ref);
        }
        throw new TemplateBuildException(dir + " is not an OCI image layout (no index.json) nor a docker-save image (no manifest.json)");
    }

    private static OciImage readLayout(Path dir, Optional<String> ref) {
        JsonNode index = readJson(dir.resolve("index.json"), "index.json");
        JsonNode descriptor = pick(index, ref, dir);
        OciDigest manifestDigest = OciDigest.parse(descriptor.path("digest").asText(null), "the image manifest");
        JsonNode manifest = readBlobJson(dir, descriptor, "the image manifest");
        // An index can point to another index (one manifest per platform): take linux/amd64.
        for (int depth = 0; INDEX_TYPES.contains(manifest.path("mediaType").asText()) || manifest.has("manifests"); depth++) {
            if (depth > 4) {
                throw new TemplateBuildException("image indexes nest too deep in " + dir);
            }
            JsonNode platformManifest = amd64(manifest, dir);
            manifestDigest = OciDigest.parse(platformManifest.path("digest").asText(null), "the linux/amd64 manifest");
            manifest = readBlobJson(dir, platformManifest, "the linux/amd64 manifest");
        }
        JsonNode configDescriptor = manifest.path("config");
        if (!configDescriptor.isObject()) {
            throw new TemplateBuildException("manifest " + manifestDigest + " has no config");
        }
        JsonNode config = readBlobJson(dir, configDescriptor, "the image config");
        List<OciImage.Layer> layers = new ArrayList<>();
        for (JsonNode layer : manifest.path("layers")) {
            OciDigest digest = OciDigest.parse(layer.path("digest").asText(null), "a layer");
            String mediaType = layer.path("mediaType").asText("");
            if (mediaType.contains("zstd")) {
                throw new TemplateBuildException("layer " + digest + " is zstd-compressed (" + mediaType
                        + "); mvm unpacks gzip and uncompressed layers");
            }
            if (mediaType.contains("nondistributable") || layer.has("urls")) {
                throw new TemplateBuildException("layer " + digest + " is a foreign layer; mvm needs every layer in the layout");
            }
            layers.add(new OciImage.Layer(blobPath(dir, digest), Optional.of(digest),
                    layer.has("size") ? Optional.of(layer.path("size").asLong()) : Optional.empty(), Optional.empty()));
        }
        String reference = dir + ref.map(r -> " (ref " + r + ")").orElse("");
        return new OciImage(reference, manifestDigest, workloadOf(config), layers);
    }

    private static JsonNode pick(JsonNode index, Optional<String> ref, Path dir) {
        List<JsonNode> manifests = new ArrayList<>();
        index.path("manifests").forEach(manifests::add);
        if (manifests.isEmpty()) {
            throw new TemplateBuildException(dir + "/index.json lists no manifests");
        }
        if (ref.isPresent()) {
            return manifests.stream().filter(m -> ref.get().equals(m.path("annotations").path(REF_ANNOTATION).asText(null)))
                    .findFirst().orElseThrow(() -> new TemplateBuildException(dir + " has no image with ref '" + ref.get()
                            + "' (it has " + refs(manifests) + ")"));
        }
        if (manifests.size() > 1) {
            throw new TemplateBuildException(dir + " holds " + manifests.size() + " images; name one with ref (" + refs(manifests) + ")");
        }
        return manifests.getFirst();
    }

    private static List<String> refs(List<JsonNode> manifests) {
        return manifests.stream().map(m -> m.path("annotations").path(REF_ANNOTATION).asText("<no ref>")).toList();
    }

    private static JsonNode amd64(JsonNode index, Path dir) {
        for (JsonNode m : index.path("manifests")) {
            JsonNode platform = m.path("platform");
            if ("linux".equals(platform.path("os").asText()) && "amd64".equals(platform.path("architecture").asText())) {
                return m;
            }
        }
        throw new TemplateBuildException("the image in " + dir + " has no linux/amd64 manifest; mvm guests are x86-64");
    }

    /** The default workload from an image config's {@code config} section; empty when it sets nothing. */
    static Optional<DefaultWorkload> workloadOf(JsonNode config) {
        String architecture = config.path("architecture").asText("amd64");
        if (!architecture.equals("amd64")) {
            throw new TemplateBuildException("the image is built for " + architecture + "; mvm guests are x86-64 (amd64)");
        }
        JsonNode c = config.path("config");
        DefaultWorkload workload = new DefaultWorkload(strings(c.path("Entrypoint")), strings(c.path("Cmd")), strings(c.path("Env")),
                c.path("WorkingDir").asText(""), c.path("User").asText(""));
        boolean empty = workload.argv().isEmpty() && workload.env().isEmpty() && workload.workingDir().isEmpty() && workload.user().isEmpty();
        return empty ? Optional.empty() : Optional.of(workload);
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    static Path blobPath(Path dir, OciDigest digest) {
        return dir.resolve("blobs").resolve("sha256").resolve(digest.hex());
    }

    private static JsonNode readBlobJson(Path dir, JsonNode descriptor, String what) {
        OciDigest digest = OciDigest.parse(descriptor.path("digest").asText(null), what);
        Path blob = blobPath(dir, digest);
        verifyBlob(blob, digest, descriptor.has("size") ? Optional.of(descriptor.path("size").asLong()) : Optional.empty(), what);
        return readJson(blob, what + " " + digest);
    }

    /** The blob exists, is a regular file inside the layout, and has the size and sha256 it is named by. */
    public static void verifyBlob(Path blob, OciDigest digest, Optional<Long> size, String what) {
        try {
            if (!Files.isRegularFile(blob, LinkOption.NOFOLLOW_LINKS)) {
                throw new TemplateBuildException(what + " " + digest + " is missing from the image (" + blob + ")");
            }
            long actualSize = Files.size(blob);
            if (size.isPresent() && size.get() != actualSize) {
                throw new TemplateBuildException(what + " " + digest + " is corrupt: " + actualSize + " bytes, the manifest says " + size.get());
            }
            String actual = ImageBuilder.sha256(blob);
            if (!actual.equals(digest.hex())) {
                throw new TemplateBuildException(what + " " + digest + " is corrupt: its content hashes to sha256:" + actual);
            }
        } catch (IOException e) {
            throw new TemplateBuildException("cannot read " + what + " " + digest + ": " + e.getMessage(), e);
        }
    }

    static JsonNode readJson(Path file, String what) {
        try {
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                throw new TemplateBuildException(what + " is missing (" + file + ")");
            }
            if (Files.size(file) > MAX_JSON_BYTES) {
                throw new TemplateBuildException(what + " is larger than " + MAX_JSON_BYTES + " bytes");
            }
            JsonNode node = JSON.readTree(file.toFile());
            if (node == null || !node.isObject() && !node.isArray()) {
                throw new TemplateBuildException(what + " is not a JSON document");
            }
            return node;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new TemplateBuildException(what + " is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new TemplateBuildException("cannot read " + what + ": " + e.getMessage(), e);
        }
    }
}
