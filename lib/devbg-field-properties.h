/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Internal to libdevbg: read-only GObject properties, one per field of an
 * info object (DevbgDeviceInfo, DevbgTaskInfo), from a table of the
 * fields, for bindings and GObject tools: the same values as the getters.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct {
  const char *name;
  const char *blurb;
  char        kind;                /* GVariant-style: s, b, u, x, v, a(s); e: an enum */
  GType     (*enum_type) (void);
  gsize       offset;              /* of the field in the instance struct */
} DevbgFieldProperty;

/* Installs property i + 1 for each of the @n_fields @fields. */
void devbg_field_properties_install (GObjectClass             *klass,
                                     const DevbgFieldProperty *fields,
                                     guint                     n_fields);

/* A get_property for those: the field of property @id of @object. */
void devbg_field_properties_get (GObject                  *object,
                                 const DevbgFieldProperty *fields,
                                 guint                     n_fields,
                                 guint                     id,
                                 GValue                   *value,
                                 GParamSpec               *pspec);

G_END_DECLS
