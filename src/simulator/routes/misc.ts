import { ApiError } from '../errors.ts';
import { WORKSPACE_ID } from '../model.ts';
import type { Router } from '../router.ts';
import { dataAttributeJson } from '../serializers.ts';
import { bodyObject, type ApiHandler } from './types.ts';

const ADMIN = {
  type: 'admin',
  id: '991267459',
  name: 'Simulator Admin',
  email: 'sim-admin@example.com',
  job_title: 'Administrator',
  away_mode_enabled: false,
  away_mode_reassign: false,
  away_status_reason_id: null,
  has_inbox_seat: true,
  team_ids: [],
  avatar: null,
};

const resourceNotFound = () => new ApiError(404, 'not_found', 'Resource Not Found');

export function miscRoutes(r: Router<ApiHandler>): void {
  // Read endpoints other clients use to check a token or load reference data (Singer's tap-intercom checks
  // its token with GET /tags); shapes from the full 2.14 description (tag_list, tag_basic, admin_list, admin).
  r.add('GET', '/tags', ({ state }) => ({
    body: { type: 'list', data: [...state.contacts.tags.values()].map((t) => ({ type: 'tag', id: t.id, name: t.name })) },
  }));
  r.add('GET', '/tags/{id}', ({ state, params }) => {
    const t = state.contacts.tags.get(params.id!);
    if (!t) throw resourceNotFound();
    return { body: { type: 'tag', id: t.id, name: t.name } };
  });
  r.add('GET', '/admins', () => ({ body: { type: 'admin.list', admins: [ADMIN] } }));
  r.add('GET', '/admins/{id}', ({ params }) => {
    if (params.id !== ADMIN.id) throw new ApiError(404, 'admin_not_found', 'Admin not found');
    return { body: ADMIN };
  });

  r.add('GET', '/me', ({ state }) => ({
    body: {
      type: 'admin',
      id: ADMIN.id,
      email: ADMIN.email,
      name: ADMIN.name,
      email_verified: true,
      app: {
        type: 'app',
        id_code: WORKSPACE_ID,
        name: 'intercom-sync simulator',
        created_at: 1_700_000_000,
        secure: false,
        identity_verification: false,
        timezone: state.settings.timezone,
        region: 'US',
      },
      avatar: { type: 'avatar', image_url: null },
      has_inbox_seat: true,
    },
  }));

  r.add('GET', '/data_attributes', ({ state, query }) => {
    const model = query.get('model');
    if (model !== null && !['contact', 'company', 'conversation'].includes(model)) {
      throw new ApiError(400, 'parameter_invalid', 'model must be one of contact, company, conversation', 'model');
    }
    const attrs = state.attributes.list(model, query.get('include_archived') === 'true');
    return { body: { type: 'list', data: attrs.map(dataAttributeJson) } };
  });

  r.add('POST', '/data_attributes', ({ state, body }) => ({
    body: dataAttributeJson(state.attributes.create(bodyObject(body))),
  }));
}
