/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-field-properties.h"

void
devbg_field_properties_get (GObject *object, const DevbgFieldProperty *fields, guint n_fields,
                            guint id, GValue *value, GParamSpec *pspec)
{
  const DevbgFieldProperty *p;
  const guint8 *base = (const guint8 *) object;

  if (id == 0 || id > n_fields)
    {
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
      return;
    }
  p = &fields[id - 1];
  if (p->kind == 's')
    g_value_set_string (value, *(char * const *) (base + p->offset));
  else if (p->kind == 'b')
    g_value_set_boolean (value, *(const gboolean *) (base + p->offset));
  else if (p->kind == 'u')
    g_value_set_uint (value, *(const guint *) (base + p->offset));
  else if (p->kind == 'x')
    g_value_set_int64 (value, *(const gint64 *) (base + p->offset));
  else if (p->kind == 'v')
    g_value_set_variant (value, *(GVariant * const *) (base + p->offset));
  else if (p->kind == 'a')
    g_value_set_boxed (value, *(char ** const *) (base + p->offset));
  else
    g_value_set_enum (value, *(const int *) (base + p->offset));
}

void
devbg_field_properties_install (GObjectClass *klass, const DevbgFieldProperty *fields,
                                guint n_fields)
{
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  for (guint i = 0; i < n_fields; i++)
    {
      const DevbgFieldProperty *p = &fields[i];
      GParamSpec *pspec;

      if (p->kind == 's')
        pspec = g_param_spec_string (p->name, NULL, p->blurb, NULL, flags);
      else if (p->kind == 'b')
        pspec = g_param_spec_boolean (p->name, NULL, p->blurb, FALSE, flags);
      else if (p->kind == 'u')
        pspec = g_param_spec_uint (p->name, NULL, p->blurb, 0, G_MAXUINT, 0, flags);
      else if (p->kind == 'x')
        pspec = g_param_spec_int64 (p->name, NULL, p->blurb, G_MININT64, G_MAXINT64, 0, flags);
      else if (p->kind == 'a')
        pspec = g_param_spec_boxed (p->name, NULL, p->blurb, G_TYPE_STRV, flags);
      else if (p->kind == 'v')
        pspec = g_param_spec_variant (p->name, NULL, p->blurb, G_VARIANT_TYPE_VARDICT, NULL,
                                      flags);
      else
        pspec = g_param_spec_enum (p->name, NULL, p->blurb, p->enum_type (), 0, flags);
      g_object_class_install_property (klass, i + 1, pspec);
    }
}
