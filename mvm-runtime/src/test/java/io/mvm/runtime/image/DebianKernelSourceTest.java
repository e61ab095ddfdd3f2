package io.mvm.runtime.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class DebianKernelSourceTest {

    @Test
    void newestConcreteCloudKernelWinsNumerically() {
        List<String> apt = List.of(
                "linux-image-6.1.0-9-cloud-amd64", "linux-image-6.1.0-56-cloud-amd64", "linux-image-6.1.0-50-cloud-amd64",
                "linux-image-6.12.117+deb12-cloud-amd64-dbg", "linux-image-6.12.117+deb12-cloud-amd64-unsigned",
                "linux-image-cloud-amd64", "linux-image-6.12-cloud-amd64");
        assertThat(DebianKernelSource.newest(apt)).contains("linux-image-6.1.0-56-cloud-amd64");
        assertThat(DebianKernelSource.newest(List.of("linux-image-6.1.0-56-cloud-amd64", "linux-image-6.12.100+deb12-cloud-amd64",
                "linux-image-6.12.99+deb12-cloud-amd64"))).contains("linux-image-6.12.100+deb12-cloud-amd64");
        assertThat(DebianKernelSource.newest(List.of("linux-image-cloud-amd64"))).isEmpty();
    }

    @Test
    void theMetaPackageWithTwoComponentsIsNotConcrete() {
        // linux-image-6.12-cloud-amd64 is a meta-package (no kernel inside); concrete ones carry a patch level.
        assertThat(DebianKernelSource.newest(List.of("linux-image-6.12-cloud-amd64", "linux-image-6.1.0-50-cloud-amd64")))
                .contains("linux-image-6.1.0-50-cloud-amd64");
    }

    @Test
    void pinsAcceptVersionReleaseOrPackageName() {
        assertThat(DebianKernelSource.packageForPin("6.1.0-56")).isEqualTo("linux-image-6.1.0-56-cloud-amd64");
        assertThat(DebianKernelSource.packageForPin("6.1.0-56-cloud-amd64")).isEqualTo("linux-image-6.1.0-56-cloud-amd64");
        assertThat(DebianKernelSource.packageForPin("linux-image-6.12.117+deb12-cloud-amd64"))
                .isEqualTo("linux-image-6.12.117+deb12-cloud-amd64");
        assertThatThrownBy(() -> DebianKernelSource.packageForPin("latest; rm -rf /"))
                .isInstanceOfSatisfying(io.mvm.model.MvmException.class,
                        e -> assertThat(e.category()).isEqualTo(io.mvm.model.ErrorCategory.INVALID_ARGUMENT)).hasMessageContaining("is not a kernel version");
    }

    @Test
    void kernelVersionIsThePackageNameWithoutPrefix() {
        assertThat(DebianKernelSource.kernelVersionOf("linux-image-6.12.117+deb12-cloud-amd64")).isEqualTo("6.12.117+deb12-cloud-amd64");
    }
}
