/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A consent agent (docs/consent-agent.md): exports
 * org.devbg.Devbg1.ConsentAgent1 on the client's bus connection, registers
 * it with devbgd (RegisterConsentAgent) and turns devbgd's RequestConsent
 * and CancelConsent calls into DevbgConsentPrompt objects and signals.
 */
#include "devbg-consent-agent.h"

#include <string.h>

#include "devbg-enum-types.h"
#include "devbg-error.h"
#include "devbg-names.h"

static const char agent_xml[] =
  "<node><interface name='" DEVBG_DBUS_CONSENT_AGENT_INTERFACE "'>"
  "<method name='RequestConsent'><arg name='details' type='a{sv}' direction='in'/>"
  "<arg name='allow' type='b' direction='out'/></method>"
  "<method name='CancelConsent'><arg name='prompt_id' type='s' direction='in'/></method>"
  "</interface></node>";

/* ---- DevbgConsentPrompt ---- */

struct _DevbgConsentPrompt {
  GObject                parent;
  GVariant              *details;
  char                  *prompt_id;
  char                  *app_id;
  char                  *app_name;
  char                  *device_id;
  char                  *device_name;
  char                  *model_id;
  char                 **warnings;
  guint32                uid;
  DevbgTriggerType       trigger;
  gboolean               remembered;
  guint                  expected_duration_s;
  /* devbgd's call, while the prompt is open: answering returns it */
  GDBusMethodInvocation *invocation;
  /* The agent that holds the prompt while it is open; not owned (the
   * agent clears it when the prompt ends or the agent goes). */
  DevbgConsentAgent     *agent;
};

G_DEFINE_FINAL_TYPE (DevbgConsentPrompt, devbg_consent_prompt, G_TYPE_OBJECT)

enum {
  PROMPT_PROP_0,
  PROMPT_PROP_PROMPT_ID,
  PROMPT_PROP_UID,
  PROMPT_PROP_APP_ID,
  PROMPT_PROP_APP_NAME,
  PROMPT_PROP_DEVICE_ID,
  PROMPT_PROP_DEVICE_NAME,
  PROMPT_PROP_MODEL_ID,
  PROMPT_PROP_TRIGGER_TYPE,
  PROMPT_PROP_WARNINGS,
  PROMPT_PROP_EXPECTED_DURATION_S,
  PROMPT_PROP_REMEMBERED,
  PROMPT_PROP_DETAILS,
  PROMPT_PROP_OPEN,
  N_PROMPT_PROPS
};
static GParamSpec *prompt_props[N_PROMPT_PROPS];

static void agent_forget_prompt (DevbgConsentAgent *agent, DevbgConsentPrompt *prompt);

static void
devbg_consent_prompt_finalize (GObject *object)
{
  DevbgConsentPrompt *prompt = DEVBG_CONSENT_PROMPT (object);

  /* The agent holds every open prompt, so an open one is never finalized;
   * this is for a prompt made but never opened. */
  if (prompt->invocation != NULL)
    g_dbus_method_invocation_return_value (g_steal_pointer (&prompt->invocation),
                                           g_variant_new ("(b)", FALSE));
  g_variant_unref (prompt->details);
  g_free (prompt->prompt_id);
  g_free (prompt->app_id);
  g_free (prompt->app_name);
  g_free (prompt->device_id);
  g_free (prompt->device_name);
  g_free (prompt->model_id);
  g_strfreev (prompt->warnings);
  G_OBJECT_CLASS (devbg_consent_prompt_parent_class)->finalize (object);
}

static void
devbg_consent_prompt_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  DevbgConsentPrompt *prompt = DEVBG_CONSENT_PROMPT (object);

  switch (id)
    {
    case PROMPT_PROP_PROMPT_ID:
      g_value_set_string (value, prompt->prompt_id);
      break;
    case PROMPT_PROP_UID:
      g_value_set_uint (value, prompt->uid);
      break;
    case PROMPT_PROP_APP_ID:
      g_value_set_string (value, prompt->app_id);
      break;
    case PROMPT_PROP_APP_NAME:
      g_value_set_string (value, prompt->app_name);
      break;
    case PROMPT_PROP_DEVICE_ID:
      g_value_set_string (value, prompt->device_id);
      break;
    case PROMPT_PROP_DEVICE_NAME:
      g_value_set_string (value, prompt->device_name);
      break;
    case PROMPT_PROP_MODEL_ID:
      g_value_set_string (value, prompt->model_id);
      break;
    case PROMPT_PROP_TRIGGER_TYPE:
      g_value_set_enum (value, prompt->trigger);
      break;
    case PROMPT_PROP_WARNINGS:
      g_value_set_boxed (value, prompt->warnings);
      break;
    case PROMPT_PROP_EXPECTED_DURATION_S:
      g_value_set_uint (value, prompt->expected_duration_s);
      break;
    case PROMPT_PROP_REMEMBERED:
      g_value_set_boolean (value, prompt->remembered);
      break;
    case PROMPT_PROP_DETAILS:
      g_value_set_variant (value, prompt->details);
      break;
    case PROMPT_PROP_OPEN:
      g_value_set_boolean (value, prompt->invocation != NULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static GParamSpec *
read_only_string (const char *name, const char *blurb)
{
  return g_param_spec_string (name, NULL, blurb, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

static void
devbg_consent_prompt_class_init (DevbgConsentPromptClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = devbg_consent_prompt_finalize;
  object_class->get_property = devbg_consent_prompt_get_property;

  /**
   * DevbgConsentPrompt:prompt-id:
   *
   * The prompt's ID, as devbgd names it.
   *
   * Since: 0.2
   */
  prompt_props[PROMPT_PROP_PROMPT_ID] = read_only_string ("prompt-id", "the prompt's ID");
  /**
   * DevbgConsentPrompt:uid:
   *
   * The user the app runs as.
   *
   * Since: 0.2
   */
  prompt_props[PROMPT_PROP_UID] = g_param_spec_uint ("uid", NULL, "the user the app runs as",
                                                     0, G_MAXUINT32, 0, flags);
  /**
   * DevbgConsentPrompt:app-id:
   *
   * The app that asks.
   *
   * Since: 0.2
   */
  prompt_props[PROMPT_PROP_APP_ID] = read_only_string ("app-id", "the app that asks");
  /**
   * DevbgConsentPrompt:app-name:
   *
   * The app's name to show.
   *
   * Since: 0.2
   */
  prompt_props[PROMPT_PROP_APP_NAME] = read_only_string ("app-name", "the app's name to show");
  /**
   * DevbgConsentPrompt:device-id:
   *
   * The device the app asks to use.
   *
   * Since: 0.2
   */
  prompt_props[PROMPT_PROP_DEVICE_ID] = read_only_string ("device-id", "the device");
  /**
   * DevbgConsentPrompt:device-name:
   *
   * The device's name to show.
   *
   * Since: 0.2
   */
  prompt_props[PROMPT_PROP_DEVICE_NAME] = read_only_string ("device-name",
                                                            "the device's name to show");
  /**
   * DevbgConsentPrompt:model-id:
   *
   * The device's model, "" when it has none: what a remembered use
   * consent covers.
   *
   * Since: 0.2
   */
  prompt_props[PROMPT_PROP_MODEL_ID] = read_only_string ("model-id", "the device's model");
  /**
   * DevbgConsentPrompt:trigger-type:
   *
   * What the app asks to do: %DEVBG_TRIGGER_USE (background sync) or
   * %DEVBG_TRIGGER_SERVICING (an update, such as firmware).
   *
   * Since: 0.2
   */
  prompt_props[PROMPT_PROP_TRIGGER_TYPE] =
    g_param_spec_enum ("trigger-type", NULL, "what the app asks to do",
                       DEVBG_TYPE_TRIGGER_TYPE, DEVBG_TRIGGER_USE, flags);
  /**
   * DevbgConsentPrompt:warnings:
   *
   * Sentences to show as they are (servicing only; empty otherwise).
   *
   * Since: 0.2
   */
  prompt_props[PROMPT_PROP_WARNINGS] = g_param_spec_boxed ("warnings", NULL, "sentences to show",
                                                           G_TYPE_STRV, flags);
  /**
   * DevbgConsentPrompt:expected-duration-s:
   *
   * The app's estimate of the update's duration in seconds, 0 when it gave
   * none (servicing only).
   *
   * Since: 0.2
   */
  prompt_props[PROMPT_PROP_EXPECTED_DURATION_S] =
    g_param_spec_uint ("expected-duration-s", NULL, "the app's estimate in seconds",
                       0, G_MAXUINT32, 0, flags);
  /**
   * DevbgConsentPrompt:remembered:
   *
   * Whether devbgd remembers an "allow" (a use consent, stored until
   * revoked) or asks again next time (a servicing consent).
   *
   * Since: 0.2
   */
  prompt_props[PROMPT_PROP_REMEMBERED] =
    g_param_spec_boolean ("remembered", NULL, "whether an allow is remembered", FALSE, flags);
  /**
   * DevbgConsentPrompt:details:
   *
   * All that devbgd sent, an a{sv} dictionary (keys newer than this
   * library included).
   *
   * Since: 0.2
   */
  prompt_props[PROMPT_PROP_DETAILS] =
    g_param_spec_variant ("details", NULL, "all that devbgd sent", G_VARIANT_TYPE_VARDICT, NULL,
                          flags);
  /**
   * DevbgConsentPrompt:open:
   *
   * Whether the prompt still waits for an answer: %FALSE once answered or
   * withdrawn.
   *
   * Since: 0.2
   */
  prompt_props[PROMPT_PROP_OPEN] =
    g_param_spec_boolean ("open", NULL, "whether it waits for an answer", FALSE,
                          flags | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROMPT_PROPS, prompt_props);
}

static void
devbg_consent_prompt_init (DevbgConsentPrompt *prompt)
{
}

static char *
lookup_string (GVariantDict *dict, const char *key)
{
  const char *value = "";

  g_variant_dict_lookup (dict, key, "&s", &value);
  return g_strdup (value);
}

/* From RequestConsent's details (taken); missing or mistyped keys read as empty,
 * an unknown trigger word as servicing (asked each time, never stored). */
static DevbgConsentPrompt *
prompt_new (GVariant *details, GDBusMethodInvocation *invocation)
{
  DevbgConsentPrompt *prompt = g_object_new (DEVBG_TYPE_CONSENT_PROMPT, NULL);
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (details);
  g_autofree char *trigger = lookup_string (&dict, "trigger");

  prompt->details = g_variant_take_ref (details);
  prompt->prompt_id = lookup_string (&dict, "prompt-id");
  prompt->app_id = lookup_string (&dict, "app-id");
  prompt->app_name = lookup_string (&dict, "app-name");
  prompt->device_id = lookup_string (&dict, "device-id");
  prompt->device_name = lookup_string (&dict, "device-name");
  prompt->model_id = lookup_string (&dict, "model-id");
  if (!g_variant_dict_lookup (&dict, "uid", "u", &prompt->uid))
    prompt->uid = 0;
  if (!g_variant_dict_lookup (&dict, "warnings", "^as", &prompt->warnings))
    prompt->warnings = g_new0 (char *, 1);
  if (!g_variant_dict_lookup (&dict, "expected-duration", "u", &prompt->expected_duration_s))
    prompt->expected_duration_s = 0;
  if (!devbg_trigger_type_from_string (trigger, &prompt->trigger))
    prompt->trigger = DEVBG_TRIGGER_SERVICING;
  prompt->remembered = strcmp (trigger, "use") == 0;
  prompt->invocation = invocation;
  return prompt;
}

/* The prompt is over: it forgets devbgd's call (already answered) and its
 * agent. */
static void
prompt_close (DevbgConsentPrompt *prompt)
{
  g_autoptr(DevbgConsentPrompt) self = g_object_ref (prompt);

  g_clear_object (&prompt->invocation);
  if (prompt->agent != NULL)
    agent_forget_prompt (g_steal_pointer (&prompt->agent), prompt);
  g_object_notify_by_pspec (G_OBJECT (prompt), prompt_props[PROMPT_PROP_OPEN]);
}

/* Replies to devbgd's RequestConsent, once. */
static void
prompt_reply (DevbgConsentPrompt *prompt, gboolean allow)
{
  g_dbus_method_invocation_return_value (g_object_ref (prompt->invocation),
                                         g_variant_new ("(b)", allow));
  prompt_close (prompt);
}

/* devbgd ignores a reply to a prompt it withdrew; an error says why, for
 * its log. */
static void
prompt_withdraw (DevbgConsentPrompt *prompt)
{
  g_dbus_method_invocation_return_error_literal (g_object_ref (prompt->invocation), DEVBG_ERROR,
                                                 DEVBG_ERROR_FAILED, "withdrawn");
  prompt_close (prompt);
}

/**
 * devbg_consent_prompt_get_prompt_id:
 * @prompt: a #DevbgConsentPrompt
 *
 * Returns: (transfer none): the prompt's ID, as devbgd names it
 *
 * Since: 0.2
 */
const char *
devbg_consent_prompt_get_prompt_id (DevbgConsentPrompt *prompt)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_PROMPT (prompt), NULL);
  return prompt->prompt_id;
}

/**
 * devbg_consent_prompt_get_uid:
 * @prompt: a #DevbgConsentPrompt
 *
 * Returns: the user the app runs as
 *
 * Since: 0.2
 */
guint32
devbg_consent_prompt_get_uid (DevbgConsentPrompt *prompt)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_PROMPT (prompt), 0);
  return prompt->uid;
}

/**
 * devbg_consent_prompt_get_app_id:
 * @prompt: a #DevbgConsentPrompt
 *
 * Returns: (transfer none): the app that asks
 *
 * Since: 0.2
 */
const char *
devbg_consent_prompt_get_app_id (DevbgConsentPrompt *prompt)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_PROMPT (prompt), NULL);
  return prompt->app_id;
}

/**
 * devbg_consent_prompt_get_app_name:
 * @prompt: a #DevbgConsentPrompt
 *
 * Returns: (transfer none): the app's name to show
 *
 * Since: 0.2
 */
const char *
devbg_consent_prompt_get_app_name (DevbgConsentPrompt *prompt)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_PROMPT (prompt), NULL);
  return prompt->app_name;
}

/**
 * devbg_consent_prompt_get_device_id:
 * @prompt: a #DevbgConsentPrompt
 *
 * Returns: (transfer none): the device the app asks to use
 *
 * Since: 0.2
 */
const char *
devbg_consent_prompt_get_device_id (DevbgConsentPrompt *prompt)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_PROMPT (prompt), NULL);
  return prompt->device_id;
}

/**
 * devbg_consent_prompt_get_device_name:
 * @prompt: a #DevbgConsentPrompt
 *
 * Returns: (transfer none): the device's name to show
 *
 * Since: 0.2
 */
const char *
devbg_consent_prompt_get_device_name (DevbgConsentPrompt *prompt)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_PROMPT (prompt), NULL);
  return prompt->device_name;
}

/**
 * devbg_consent_prompt_get_model_id:
 * @prompt: a #DevbgConsentPrompt
 *
 * Returns: (transfer none): the device's model, "" when it has none: what
 *   a remembered use consent covers
 *
 * Since: 0.2
 */
const char *
devbg_consent_prompt_get_model_id (DevbgConsentPrompt *prompt)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_PROMPT (prompt), NULL);
  return prompt->model_id;
}

/**
 * devbg_consent_prompt_get_trigger_type:
 * @prompt: a #DevbgConsentPrompt
 *
 * Returns: what the app asks to do: %DEVBG_TRIGGER_USE (background sync)
 *   or %DEVBG_TRIGGER_SERVICING (an update, such as firmware)
 *
 * Since: 0.2
 */
DevbgTriggerType
devbg_consent_prompt_get_trigger_type (DevbgConsentPrompt *prompt)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_PROMPT (prompt), DEVBG_TRIGGER_SERVICING);
  return prompt->trigger;
}

/**
 * devbg_consent_prompt_get_warnings:
 * @prompt: a #DevbgConsentPrompt
 *
 * Returns: (transfer none) (array zero-terminated=1): sentences to show as
 *   they are, such as "Keep the device connected until the update is
 *   done." (servicing only; empty otherwise)
 *
 * Since: 0.2
 */
const char * const *
devbg_consent_prompt_get_warnings (DevbgConsentPrompt *prompt)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_PROMPT (prompt), NULL);
  return (const char * const *) prompt->warnings;
}

/**
 * devbg_consent_prompt_get_expected_duration_s:
 * @prompt: a #DevbgConsentPrompt
 *
 * Returns: the app's estimate of the update's duration in seconds, 0 when
 *   it gave none (servicing only)
 *
 * Since: 0.2
 */
guint
devbg_consent_prompt_get_expected_duration_s (DevbgConsentPrompt *prompt)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_PROMPT (prompt), 0);
  return prompt->expected_duration_s;
}

/**
 * devbg_consent_prompt_get_remembered:
 * @prompt: a #DevbgConsentPrompt
 *
 * Whether devbgd remembers the answer "allow": a use (sync) consent is
 * stored for this user, app and device model until revoked (tell the
 * person so); a servicing consent is asked every time. A denial is never
 * stored.
 *
 * Returns: %TRUE when an allow is remembered
 *
 * Since: 0.2
 */
gboolean
devbg_consent_prompt_get_remembered (DevbgConsentPrompt *prompt)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_PROMPT (prompt), FALSE);
  return prompt->remembered;
}

/**
 * devbg_consent_prompt_get_details:
 * @prompt: a #DevbgConsentPrompt
 *
 * Returns: (transfer none): all that devbgd sent, an a{sv} dictionary
 *   (keys newer than this library included)
 *
 * Since: 0.2
 */
GVariant *
devbg_consent_prompt_get_details (DevbgConsentPrompt *prompt)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_PROMPT (prompt), NULL);
  return prompt->details;
}

/**
 * devbg_consent_prompt_get_open:
 * @prompt: a #DevbgConsentPrompt
 *
 * Returns: %TRUE while the prompt waits for an answer; %FALSE once it was
 *   answered or withdrawn
 *
 * Since: 0.2
 */
gboolean
devbg_consent_prompt_get_open (DevbgConsentPrompt *prompt)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_PROMPT (prompt), FALSE);
  return prompt->invocation != NULL;
}

/**
 * devbg_consent_prompt_answer:
 * @prompt: a #DevbgConsentPrompt
 * @allow: %TRUE when the person allowed it
 * @error: return location for a #GError
 *
 * Gives devbgd the person's answer, once, whenever they gave it (from the
 * #DevbgConsentAgent::prompt handler or later; the call does not block).
 * An allowed use consent is remembered by devbgd
 * (devbg_consent_prompt_get_remembered()). Treat a dismissal as a denial:
 * consent is never assumed.
 *
 * Returns: %TRUE when the answer was sent; %FALSE with @error set
 *   (%DEVBG_ERROR_FAILED) when the prompt was already answered or devbgd
 *   withdrew it
 *
 * Since: 0.2
 */
gboolean
devbg_consent_prompt_answer (DevbgConsentPrompt *prompt, gboolean allow, GError **error)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_PROMPT (prompt), FALSE);
  if (prompt->invocation == NULL)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED,
                   "consent prompt %s is over (answered, or withdrawn by devbgd): "
                   "the answer is not sent", prompt->prompt_id);
      return FALSE;
    }
  prompt_reply (prompt, allow);
  return TRUE;
}

/* ---- DevbgConsentAgent ---- */

typedef struct {
  gboolean ok;
  GError  *error;
} RegisterOutcome;

struct _DevbgConsentAgent {
  GObject          parent;
  DevbgClient     *client;
  GDBusConnection *connection;
  char            *object_path;
  guint            object_id;       /* exported while not 0 */
  guint            name_watch;
  char            *devbgd_owner;    /* devbgd's unique name as the name watch saw it */
  char            *registered_with; /* the devbgd we are registered with; NULL when not */
  gboolean         follow;          /* register again whenever devbgd (re)appears */
  gboolean         registering;     /* a RegisterConsentAgent call in flight */
  GPtrArray       *waiters;         /* GTasks of register_async waiting for that call */
  GHashTable      *prompts;         /* prompt ID -> open DevbgConsentPrompt */
  GCancellable    *cancellable;     /* our own calls, cut at dispose */
};

G_DEFINE_FINAL_TYPE (DevbgConsentAgent, devbg_consent_agent, G_TYPE_OBJECT)

enum { AGENT_PROP_0, AGENT_PROP_CLIENT, AGENT_PROP_OBJECT_PATH, AGENT_PROP_REGISTERED,
       N_AGENT_PROPS };
static GParamSpec *agent_props[N_AGENT_PROPS];

enum { SIGNAL_PROMPT, SIGNAL_PROMPT_WITHDRAWN, SIGNAL_REGISTRATION_FAILED, N_AGENT_SIGNALS };
static guint agent_signals[N_AGENT_SIGNALS];

static void
agent_forget_prompt (DevbgConsentAgent *agent, DevbgConsentPrompt *prompt)
{
  if (g_hash_table_lookup (agent->prompts, prompt->prompt_id) == prompt)
    g_hash_table_remove (agent->prompts, prompt->prompt_id);
}

static void
agent_set_registered_with (DevbgConsentAgent *agent, const char *devbgd)
{
  gboolean was = agent->registered_with != NULL;

  g_free (agent->registered_with);
  agent->registered_with = g_strdup (devbgd);
  if (was != (devbgd != NULL))
    g_object_notify_by_pspec (G_OBJECT (agent), agent_props[AGENT_PROP_REGISTERED]);
}

/* A reference to each open prompt, to end them while the table changes. */
static GPtrArray *
agent_open_prompts (DevbgConsentAgent *agent)
{
  GPtrArray *open = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer prompt;

  g_hash_table_iter_init (&iter, agent->prompts);
  while (g_hash_table_iter_next (&iter, NULL, &prompt))
    g_ptr_array_add (open, g_object_ref (prompt));
  return open;
}

/* Every open prompt is over without an answer (devbgd left): withdrawn. */
static void
agent_withdraw_all (DevbgConsentAgent *agent)
{
  g_autoptr(GPtrArray) open = agent_open_prompts (agent);

  for (guint i = 0; i < open->len; i++)
    {
      DevbgConsentPrompt *prompt = g_ptr_array_index (open, i);
      if (prompt->invocation == NULL)
        continue;
      prompt_withdraw (prompt);
      g_signal_emit (agent, agent_signals[SIGNAL_PROMPT_WITHDRAWN], 0, prompt);
    }
}

static void
devbg_consent_agent_dispose (GObject *object)
{
  DevbgConsentAgent *agent = DEVBG_CONSENT_AGENT (object);

  g_cancellable_cancel (agent->cancellable);
  /* No one is left to ask: what is open is denied, never assumed. */
  if (agent->prompts != NULL)
    {
      g_autoptr(GPtrArray) open = agent_open_prompts (agent);
      for (guint i = 0; i < open->len; i++)
        {
          DevbgConsentPrompt *prompt = g_ptr_array_index (open, i);
          if (prompt->invocation != NULL)
            prompt_reply (prompt, FALSE);
        }
    }
  if (agent->registered_with != NULL && agent->connection != NULL)
    g_dbus_connection_call (agent->connection, agent->registered_with, DEVBG_DBUS_PATH,
                            DEVBG_DBUS_MANAGER_INTERFACE, "UnregisterConsentAgent",
                            g_variant_new ("(o)", agent->object_path), NULL,
                            G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
  g_clear_pointer (&agent->registered_with, g_free);
  if (agent->name_watch != 0)
    g_bus_unwatch_name (agent->name_watch);
  agent->name_watch = 0;
  if (agent->object_id != 0)
    g_dbus_connection_unregister_object (agent->connection, agent->object_id);
  agent->object_id = 0;
  g_clear_object (&agent->connection);
  g_clear_object (&agent->client);
  G_OBJECT_CLASS (devbg_consent_agent_parent_class)->dispose (object);
}

static void
devbg_consent_agent_finalize (GObject *object)
{
  DevbgConsentAgent *agent = DEVBG_CONSENT_AGENT (object);

  g_hash_table_unref (agent->prompts);
  g_ptr_array_unref (agent->waiters);
  g_object_unref (agent->cancellable);
  g_free (agent->object_path);
  g_free (agent->devbgd_owner);
  G_OBJECT_CLASS (devbg_consent_agent_parent_class)->finalize (object);
}

static void
devbg_consent_agent_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  DevbgConsentAgent *agent = DEVBG_CONSENT_AGENT (object);

  switch (id)
    {
    case AGENT_PROP_CLIENT:
      g_value_set_object (value, agent->client);
      break;
    case AGENT_PROP_OBJECT_PATH:
      g_value_set_string (value, agent->object_path);
      break;
    case AGENT_PROP_REGISTERED:
      g_value_set_boolean (value, agent->registered_with != NULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
devbg_consent_agent_set_property (GObject *object, guint id, const GValue *value,
                                  GParamSpec *pspec)
{
  DevbgConsentAgent *agent = DEVBG_CONSENT_AGENT (object);

  switch (id)
    {
    case AGENT_PROP_CLIENT:
      agent->client = g_value_dup_object (value);
      break;
    case AGENT_PROP_OBJECT_PATH:
      g_free (agent->object_path);
      agent->object_path = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
devbg_consent_agent_constructed (GObject *object)
{
  DevbgConsentAgent *agent = DEVBG_CONSENT_AGENT (object);

  G_OBJECT_CLASS (devbg_consent_agent_parent_class)->constructed (object);
  if (agent->object_path == NULL || !g_variant_is_object_path (agent->object_path))
    {
      if (agent->object_path != NULL)
        g_critical ("%s is not a D-Bus object path; the agent uses %s", agent->object_path,
                    DEVBG_CONSENT_AGENT_PATH);
      g_free (agent->object_path);
      agent->object_path = g_strdup (DEVBG_CONSENT_AGENT_PATH);
    }
  if (agent->client != NULL)
    agent->connection = g_object_ref (devbg_client_get_connection (agent->client));
}

static void
devbg_consent_agent_class_init (DevbgConsentAgentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = devbg_consent_agent_dispose;
  object_class->finalize = devbg_consent_agent_finalize;
  object_class->get_property = devbg_consent_agent_get_property;
  object_class->set_property = devbg_consent_agent_set_property;
  object_class->constructed = devbg_consent_agent_constructed;

  /**
   * DevbgConsentAgent:client:
   *
   * The client whose bus connection the agent serves on.
   *
   * Since: 0.2
   */
  agent_props[AGENT_PROP_CLIENT] =
    g_param_spec_object ("client", NULL, "the client whose connection it serves on",
                         DEVBG_TYPE_CLIENT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * DevbgConsentAgent:object-path:
   *
   * The object path the agent is exported at (%DEVBG_CONSENT_AGENT_PATH
   * unless given).
   *
   * Since: 0.2
   */
  agent_props[AGENT_PROP_OBJECT_PATH] =
    g_param_spec_string ("object-path", NULL, "the object path it is exported at", NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * DevbgConsentAgent:registered:
   *
   * Whether devbgd knows the agent now. It turns %FALSE when devbgd leaves
   * the bus, and %TRUE again when the agent has registered with devbgd's
   * next run by itself.
   *
   * Since: 0.2
   */
  agent_props[AGENT_PROP_REGISTERED] =
    g_param_spec_boolean ("registered", NULL, "whether devbgd knows it now", FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_AGENT_PROPS, agent_props);

  /**
   * DevbgConsentAgent::prompt:
   * @agent: the agent
   * @prompt: the prompt
   *
   * devbgd asks the person whether an app may use a device in the
   * background. Show @prompt and answer it with
   * devbg_consent_prompt_answer() when the person answers (keep a
   * reference until then). devbgd sends one prompt of a session at a
   * time. With no handler connected, the agent denies at once. Emitted
   * from the main context current when the agent was made.
   *
   * Since: 0.2
   */
  agent_signals[SIGNAL_PROMPT] =
    g_signal_new ("prompt", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, DEVBG_TYPE_CONSENT_PROMPT);
  /**
   * DevbgConsentAgent::prompt-withdrawn:
   * @agent: the agent
   * @prompt: the prompt, no longer open
   *
   * devbgd ended @prompt without the person's answer (no answer within
   * its ConsentTimeout, the app left, devbgd stopped or left the bus):
   * take it off the screen. An answer to it is no longer taken.
   *
   * Since: 0.2
   */
  agent_signals[SIGNAL_PROMPT_WITHDRAWN] =
    g_signal_new ("prompt-withdrawn", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, DEVBG_TYPE_CONSENT_PROMPT);
  /**
   * DevbgConsentAgent::registration-failed:
   * @agent: the agent
   * @error: why
   *
   * Registering again with a devbgd that (re)appeared on the bus failed.
   * (The first registration's failure is the result of
   * devbg_consent_agent_register_async() instead.)
   *
   * Since: 0.2
   */
  agent_signals[SIGNAL_REGISTRATION_FAILED] =
    g_signal_new ("registration-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
devbg_consent_agent_init (DevbgConsentAgent *agent)
{
  agent->prompts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  agent->waiters = g_ptr_array_new_with_free_func (g_object_unref);
  agent->cancellable = g_cancellable_new ();
}

/**
 * devbg_consent_agent_new:
 * @client: the client whose bus connection the agent serves on
 * @object_path: (nullable): the object path to export the agent at,
 *   %NULL for %DEVBG_CONSENT_AGENT_PATH
 *
 * Makes a consent agent; it serves nothing until
 * devbg_consent_agent_register_async(). Connect to its signals first.
 * Its signals are emitted from the thread-default main context current
 * when it is registered.
 *
 * Returns: (transfer full): a new agent
 *
 * Since: 0.2
 */
DevbgConsentAgent *
devbg_consent_agent_new (DevbgClient *client, const char *object_path)
{
  g_return_val_if_fail (DEVBG_IS_CLIENT (client), NULL);
  return g_object_new (DEVBG_TYPE_CONSENT_AGENT, "client", client, "object-path", object_path,
                       NULL);
}

/**
 * devbg_consent_agent_get_client:
 * @agent: a #DevbgConsentAgent
 *
 * Returns: (transfer none): the client whose connection the agent serves on
 *
 * Since: 0.2
 */
DevbgClient *
devbg_consent_agent_get_client (DevbgConsentAgent *agent)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_AGENT (agent), NULL);
  return agent->client;
}

/**
 * devbg_consent_agent_get_object_path:
 * @agent: a #DevbgConsentAgent
 *
 * Returns: (transfer none): the object path the agent is exported at
 *
 * Since: 0.2
 */
const char *
devbg_consent_agent_get_object_path (DevbgConsentAgent *agent)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_AGENT (agent), NULL);
  return agent->object_path;
}

/**
 * devbg_consent_agent_get_registered:
 * @agent: a #DevbgConsentAgent
 *
 * Returns: whether devbgd knows the agent now
 *
 * Since: 0.2
 */
gboolean
devbg_consent_agent_get_registered (DevbgConsentAgent *agent)
{
  g_return_val_if_fail (DEVBG_IS_CONSENT_AGENT (agent), FALSE);
  return agent->registered_with != NULL;
}

/* ---- devbgd's calls */

static void
agent_request_consent (DevbgConsentAgent *agent, GVariant *params,
                       GDBusMethodInvocation *invocation)
{
  g_autoptr(DevbgConsentPrompt) prompt = prompt_new (g_variant_get_child_value (params, 0),
                                                     invocation);

  if (*prompt->prompt_id == '\0' || g_hash_table_contains (agent->prompts, prompt->prompt_id))
    {
      prompt->invocation = NULL;
      g_dbus_method_invocation_return_error (invocation, DEVBG_ERROR,
                                             DEVBG_ERROR_INVALID_ARGUMENT,
                                             "consent prompt ID \"%s\" is %s", prompt->prompt_id,
                                             *prompt->prompt_id ? "already open" : "missing");
      return;
    }
  prompt->agent = agent;
  g_hash_table_insert (agent->prompts, prompt->prompt_id, g_object_ref (prompt));
  /* No one to ask: consent is never assumed. */
  if (!g_signal_has_handler_pending (agent, agent_signals[SIGNAL_PROMPT], 0, TRUE))
    {
      g_debug ("consent prompt %s: no handler of DevbgConsentAgent::prompt; denied",
               prompt->prompt_id);
      prompt_reply (prompt, FALSE);
      return;
    }
  g_signal_emit (agent, agent_signals[SIGNAL_PROMPT], 0, prompt);
}

static void
agent_cancel_consent (DevbgConsentAgent *agent, GVariant *params)
{
  const char *id;
  DevbgConsentPrompt *prompt;

  g_variant_get (params, "(&s)", &id);
  prompt = g_hash_table_lookup (agent->prompts, id);
  if (prompt != NULL)
    {
      g_autoptr(DevbgConsentPrompt) ref = g_object_ref (prompt);
      prompt_withdraw (prompt);
      g_signal_emit (agent, agent_signals[SIGNAL_PROMPT_WITHDRAWN], 0, prompt);
    }
}

static void
agent_method_call (GDBusConnection *connection, const char *sender, const char *path,
                   const char *iface, const char *method, GVariant *params,
                   GDBusMethodInvocation *invocation, gpointer user_data)
{
  DevbgConsentAgent *agent = user_data;

  (void) connection; (void) path; (void) iface;
  /* Only devbgd asks: anyone else on the bus could show fake prompts. */
  if (sender == NULL || (g_strcmp0 (sender, agent->registered_with) != 0 &&
                         g_strcmp0 (sender, agent->devbgd_owner) != 0))
    {
      g_dbus_method_invocation_return_error_literal (invocation, G_DBUS_ERROR,
                                                     G_DBUS_ERROR_ACCESS_DENIED,
                                                     "only devbgd may call a consent agent");
      return;
    }
  if (strcmp (method, "RequestConsent") == 0)
    agent_request_consent (agent, params, invocation);
  else
    {
      agent_cancel_consent (agent, params);
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
}

/* ---- registering */

static void agent_register_call (DevbgConsentAgent *agent);

static void
on_devbgd_appeared (GDBusConnection *connection, const char *name, const char *owner,
                    gpointer user_data)
{
  DevbgConsentAgent *agent = user_data;

  (void) connection; (void) name;
  g_free (agent->devbgd_owner);
  agent->devbgd_owner = g_strdup (owner);
  /* devbgd keeps no agents across restarts: register with the new one. */
  if (agent->follow && !agent->registering && g_strcmp0 (agent->registered_with, owner) != 0)
    agent_register_call (agent);
}

static void
on_devbgd_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  DevbgConsentAgent *agent = user_data;

  (void) connection; (void) name;
  g_clear_pointer (&agent->devbgd_owner, g_free);
  if (agent->registered_with == NULL)
    return;
  g_debug ("devbgd %s left the bus; its consent prompts are over", agent->registered_with);
  agent_set_registered_with (agent, NULL);
  agent_withdraw_all (agent);
}

/* Exports the agent and watches devbgd, once. */
static gboolean
agent_export (DevbgConsentAgent *agent, GError **error)
{
  g_autoptr(GDBusNodeInfo) info = NULL;
  static const GDBusInterfaceVTable vtable = { .method_call = agent_method_call };

  if (agent->object_id != 0)
    return TRUE;
  if (agent->connection == NULL || g_dbus_connection_get_unique_name (agent->connection) == NULL)
    {
      g_set_error_literal (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                           "a consent agent needs a message bus connection (devbgd calls it "
                           "from the bus), not a peer-to-peer one");
      return FALSE;
    }
  info = g_dbus_node_info_new_for_xml (agent_xml, NULL);
  agent->object_id = g_dbus_connection_register_object (agent->connection, agent->object_path,
                                                        info->interfaces[0], &vtable, agent,
                                                        NULL, error);
  if (agent->object_id == 0)
    return FALSE;
  agent->name_watch = g_bus_watch_name_on_connection (agent->connection, DEVBG_DBUS_SERVICE,
                                                      G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                      on_devbgd_appeared, on_devbgd_vanished,
                                                      agent, NULL);
  return TRUE;
}

static GDBusMessage *
manager_message (DevbgConsentAgent *agent, const char *destination, const char *method)
{
  GDBusMessage *message = g_dbus_message_new_method_call (destination, DEVBG_DBUS_PATH,
                                                          DEVBG_DBUS_MANAGER_INTERFACE, method);

  g_dbus_message_set_body (message, g_variant_new ("(o)", agent->object_path));
  return message;
}

/* The sender of devbgd's reply (devbgd's unique name), or NULL with @error
 * set. */
static const char *
reply_sender (GDBusMessage *reply, GError **error)
{
  g_autoptr(GError) local = NULL;

  (void) DEVBG_ERROR; /* devbgd's error names map to DevbgError codes */
  if (reply == NULL)
    return NULL;
  if (g_dbus_message_to_gerror (reply, &local))
    {
      g_dbus_error_strip_remote_error (local);
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  return g_dbus_message_get_sender (reply);
}

static void
register_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(DevbgConsentAgent) agent = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusMessage) reply =
    g_dbus_connection_send_message_with_reply_finish (G_DBUS_CONNECTION (source), result, &error);
  const char *devbgd = reply_sender (reply, &error);
  g_autoptr(GPtrArray) waiters = g_steal_pointer (&agent->waiters);

  agent->waiters = g_ptr_array_new_with_free_func (g_object_unref);
  agent->registering = FALSE;
  /* Unregistered (or disposed) while the call was on its way: undo it. */
  if (devbgd != NULL && (!agent->follow || agent->connection == NULL))
    {
      g_dbus_connection_call (G_DBUS_CONNECTION (source), devbgd, DEVBG_DBUS_PATH,
                              DEVBG_DBUS_MANAGER_INTERFACE, "UnregisterConsentAgent",
                              g_variant_new ("(o)", agent->object_path), NULL,
                              G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
      devbgd = NULL;
      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                           "the agent was unregistered before devbgd registered it");
    }
  if (devbgd != NULL)
    agent_set_registered_with (agent, devbgd);
  for (guint i = 0; i < waiters->len; i++)
    {
      if (devbgd != NULL)
        g_task_return_boolean (g_ptr_array_index (waiters, i), TRUE);
      else
        g_task_return_error (g_ptr_array_index (waiters, i), g_error_copy (error));
    }
  if (devbgd == NULL && waiters->len == 0 &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_signal_emit (agent, agent_signals[SIGNAL_REGISTRATION_FAILED], 0, error);
  /* devbgd appeared while a call found it absent: the name watch skipped
   * it then, so register now. */
  if (devbgd == NULL && agent->follow && agent->connection != NULL &&
      agent->devbgd_owner != NULL &&
      (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
       g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER)))
    agent_register_call (agent);
}

/* RegisterConsentAgent, to whichever devbgd owns the name now; its reply's
 * sender is that devbgd. */
static void
agent_register_call (DevbgConsentAgent *agent)
{
  g_autoptr(GDBusMessage) message = manager_message (agent, DEVBG_DBUS_SERVICE,
                                                     "RegisterConsentAgent");

  agent->registering = TRUE;
  g_dbus_connection_send_message_with_reply (agent->connection, message,
                                             G_DBUS_SEND_MESSAGE_FLAGS_NONE, -1, NULL,
                                             agent->cancellable, register_done,
                                             g_object_ref (agent));
}

/**
 * devbg_consent_agent_register_async:
 * @agent: a #DevbgConsentAgent
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when devbgd answered
 * @user_data: (closure callback): data for @callback
 *
 * Exports the agent on the client's connection and registers it with
 * devbgd (RegisterConsentAgent) for the caller's user and logind session.
 * From then on the agent registers again by itself whenever devbgd
 * (re)appears on the bus, also when this first registration failed
 * because devbgd was not running (#DevbgConsentAgent:registered follows
 * it, #DevbgConsentAgent::registration-failed says why a later one
 * failed), until devbg_consent_agent_unregister_async() or the agent is
 * disposed. Registering an agent that is registered does nothing. An app
 * may not be a consent agent (%DEVBG_ERROR_ACCESS_DENIED); a user has at
 * most 8 (%DEVBG_ERROR_LIMIT_EXCEEDED). Finish with
 * devbg_consent_agent_register_finish().
 *
 * Since: 0.2
 */
void
devbg_consent_agent_register_async (DevbgConsentAgent *agent, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (DEVBG_IS_CONSENT_AGENT (agent));
  task = g_task_new (agent, cancellable, callback, user_data);
  g_task_set_source_tag (task, devbg_consent_agent_register_async);
  if (!agent_export (agent, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  agent->follow = TRUE;
  if (agent->registered_with != NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_ptr_array_add (agent->waiters, g_steal_pointer (&task));
  if (!agent->registering)
    agent_register_call (agent);
}

/**
 * devbg_consent_agent_register_finish:
 * @agent: a #DevbgConsentAgent
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE when devbgd registered the agent; %FALSE with @error set
 *
 * Since: 0.2
 */
gboolean
devbg_consent_agent_register_finish (DevbgConsentAgent *agent, GAsyncResult *result,
                                     GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, agent), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        devbg_consent_agent_register_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * devbg_consent_agent_register_sync:
 * @agent: a #DevbgConsentAgent
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of devbg_consent_agent_register_async(). Prompts are
 * served from the thread-default main context current now, once it runs.
 *
 * Returns: %TRUE when devbgd registered the agent; %FALSE with @error set
 *
 * Since: 0.2
 */
gboolean
devbg_consent_agent_register_sync (DevbgConsentAgent *agent, GCancellable *cancellable,
                                   GError **error)
{
  g_autoptr(GDBusMessage) message = NULL;
  g_autoptr(GDBusMessage) reply = NULL;
  const char *devbgd;

  g_return_val_if_fail (DEVBG_IS_CONSENT_AGENT (agent), FALSE);
  if (!agent_export (agent, error))
    return FALSE;
  agent->follow = TRUE;
  if (agent->registered_with != NULL)
    return TRUE;
  message = manager_message (agent, DEVBG_DBUS_SERVICE, "RegisterConsentAgent");
  reply = g_dbus_connection_send_message_with_reply_sync (agent->connection, message,
                                                          G_DBUS_SEND_MESSAGE_FLAGS_NONE, -1,
                                                          NULL, cancellable, error);
  devbgd = reply_sender (reply, error);
  if (devbgd == NULL)
    return FALSE;
  agent_set_registered_with (agent, devbgd);
  return TRUE;
}

static void
unregister_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusMessage) reply =
    g_dbus_connection_send_message_with_reply_finish (G_DBUS_CONNECTION (source), result, &error);

  if (reply_sender (reply, &error) == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

/* Stops following devbgd; returns the devbgd to unregister from, NULL
 * when registered with none. */
static char *
agent_stop_following (DevbgConsentAgent *agent)
{
  g_autofree char *devbgd = g_strdup (agent->registered_with);

  agent->follow = FALSE;
  agent_set_registered_with (agent, NULL);
  return g_steal_pointer (&devbgd);
}

/**
 * devbg_consent_agent_unregister_async:
 * @agent: a #DevbgConsentAgent
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when devbgd answered
 * @user_data: (closure callback): data for @callback
 *
 * Tells devbgd that the agent serves no more prompts
 * (UnregisterConsentAgent) and stops registering it again when devbgd
 * restarts. A prompt that is open stays open until answered or withdrawn.
 * An agent that is not registered is left as it is. Disposing the agent
 * unregisters it too, without waiting for devbgd. Finish with
 * devbg_consent_agent_unregister_finish().
 *
 * Since: 0.2
 */
void
devbg_consent_agent_unregister_async (DevbgConsentAgent *agent, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *devbgd = NULL;
  g_autoptr(GDBusMessage) message = NULL;

  g_return_if_fail (DEVBG_IS_CONSENT_AGENT (agent));
  task = g_task_new (agent, cancellable, callback, user_data);
  g_task_set_source_tag (task, devbg_consent_agent_unregister_async);
  devbgd = agent_stop_following (agent);
  if (devbgd == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  message = manager_message (agent, devbgd, "UnregisterConsentAgent");
  g_dbus_connection_send_message_with_reply (agent->connection, message,
                                             G_DBUS_SEND_MESSAGE_FLAGS_NONE, -1, NULL,
                                             cancellable, unregister_done,
                                             g_steal_pointer (&task));
}

/**
 * devbg_consent_agent_unregister_finish:
 * @agent: a #DevbgConsentAgent
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE when devbgd no longer knows the agent; %FALSE with @error
 *   set
 *
 * Since: 0.2
 */
gboolean
devbg_consent_agent_unregister_finish (DevbgConsentAgent *agent, GAsyncResult *result,
                                       GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, agent), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        devbg_consent_agent_unregister_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * devbg_consent_agent_unregister_sync:
 * @agent: a #DevbgConsentAgent
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of devbg_consent_agent_unregister_async().
 *
 * Returns: %TRUE when devbgd no longer knows the agent; %FALSE with @error
 *   set
 *
 * Since: 0.2
 */
gboolean
devbg_consent_agent_unregister_sync (DevbgConsentAgent *agent, GCancellable *cancellable,
                                     GError **error)
{
  g_autofree char *devbgd = NULL;
  g_autoptr(GDBusMessage) message = NULL;
  g_autoptr(GDBusMessage) reply = NULL;

  g_return_val_if_fail (DEVBG_IS_CONSENT_AGENT (agent), FALSE);
  devbgd = agent_stop_following (agent);
  if (devbgd == NULL)
    return TRUE;
  message = manager_message (agent, devbgd, "UnregisterConsentAgent");
  reply = g_dbus_connection_send_message_with_reply_sync (agent->connection, message,
                                                          G_DBUS_SEND_MESSAGE_FLAGS_NONE, -1,
                                                          NULL, cancellable, error);
  return reply_sender (reply, error) != NULL;
}
