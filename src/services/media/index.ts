/** The media repository's services, as the composition root builds them. */
import { Readable } from 'node:stream';
import type { Config } from '../../config/index.js';
import type { MediaStore } from '../../storage/media.js';
import type { MediaAccessPolicy } from './access.js';
import { ContentStore } from './content-store.js';
import { MediaService } from './media-service.js';
import { ThumbnailService } from './thumbnails.js';
import { UrlPreviewService } from './url-preview.js';

export interface MediaServices {
  repository: MediaService;
  thumbnails: ThumbnailService;
  previews: UrlPreviewService;
}

export { MediaService, ThumbnailService, UrlPreviewService, ContentStore };
export { roomMembersPolicy, type MediaAccessPolicy, type MediaReader } from './access.js';

/** Builds the media services over media_store_path (creating it, clearing stale temporary files). */
export async function createMediaServices(deps: { store: MediaStore; config: Config; access: MediaAccessPolicy }): Promise<MediaServices> {
  const content = new ContentStore(deps.config.mediaStorePath);
  const repository = new MediaService({ store: deps.store, content, config: deps.config, access: deps.access });
  await repository.init();
  return {
    repository,
    thumbnails: new ThumbnailService(deps.store, content, deps.config.media),
    // Preview images become media of the user who asked for the preview (and count to their quota).
    previews: new UrlPreviewService(deps.config.media.urlPreview, async (userId, data, contentType) =>
      (await repository.upload(userId, Readable.from([data]), { contentType, declaredLength: data.length })).contentUri,
    ),
  };
}
