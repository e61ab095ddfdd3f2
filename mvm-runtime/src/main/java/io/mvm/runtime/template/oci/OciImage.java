package io.mvm.runtime.template.oci;

import io.mvm.core.template.DefaultWorkload;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * An OCI image found on the host and checked: its identity, its default workload and its layers in
 * the order they apply, each with the digest it must have.
 *
 * @param manifestDigest the image's identity (the lock hash of its cache key)
 */
public record OciImage(String reference, OciDigest manifestDigest, Optional<DefaultWorkload> workload, List<Layer> layers) {

    /**
     * @param blob         the layer file as stored (gzip or plain tar)
     * @param blobDigest   what the blob must hash to (OCI layouts), checked before it is read
     * @param diffId       what the uncompressed tar must hash to (docker save), checked after
     */
    public record Layer(Path blob, Optional<OciDigest> blobDigest, Optional<Long> blobSize, Optional<OciDigest> diffId) {
        public String name() {
            return blobDigest.or(() -> diffId).map(OciDigest::toString).orElse(blob.getFileName().toString());
        }
    }
}
