package io.mvm.core.template;

import io.mvm.model.Role;

/**
 * One buildable flavour of a template: a role with its profile and resources.
 *
 * @param name defaults to {@code <template_id>-<role>} when the file omits it
 */
public record TemplateVariant(String name, Role role, String profile, int vcpus, int memMib, int dataDiskMib) {}
