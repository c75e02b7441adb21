/**
 * PixelMed DicomSRValidator on the 50-label shape (one non-ASCII label, private scheme, a LongCodeValue): the
 * slowest file for PixelMed (about 55 s on an idle machine), so it runs alone.
 */
import { pixelmedCase } from './pixelmed-case';

pixelmedCase(['per-image-50-labels']);
